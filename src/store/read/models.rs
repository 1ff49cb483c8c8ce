//! The entities' rows, read by position in the order `Entity::find()` selects them (the
//! entity's column order, checked below against each entity).

use crate::entity::{comment, favorite, follow, post, profile, role, tag, user};
use crate::from_row;

from_row!(user::Model {
    id,
    username,
    email,
    password_hash,
    display_name,
    is_active,
    created_at,
    updated_at,
});
from_row!(profile::Model {
    id,
    user_id,
    avatar_url,
    website,
    bio,
    location,
    created_at,
    updated_at,
});
from_row!(post::Model {
    id,
    author_id,
    title,
    slug,
    description,
    content,
    created_at,
    updated_at,
});
from_row!(comment::Model {
    id,
    post_id,
    author_id,
    body,
    created_at,
    updated_at,
});
from_row!(role::Model {
    id,
    name,
    description,
    created_at,
});
from_row!(follow::Model {
    follower_id,
    followee_id,
    created_at,
});
from_row!(favorite::Model {
    user_id,
    post_id,
    created_at,
});
from_row!(tag::Model {
    id,
    name,
    created_at,
});

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, IdenStatic, Iterable};

    use super::*;
    use crate::store::read::Fields;

    fn columns<E: EntityTrait>() -> Vec<&'static str> {
        E::Column::iter().map(|c| c.as_str()).collect()
    }

    #[test]
    fn every_model_reads_its_entitys_columns_in_order() {
        assert_eq!(columns::<user::Entity>(), <user::Model as Fields>::FIELDS);
        assert_eq!(
            columns::<profile::Entity>(),
            <profile::Model as Fields>::FIELDS
        );
        assert_eq!(columns::<post::Entity>(), <post::Model as Fields>::FIELDS);
        assert_eq!(
            columns::<comment::Entity>(),
            <comment::Model as Fields>::FIELDS
        );
        assert_eq!(columns::<role::Entity>(), <role::Model as Fields>::FIELDS);
        assert_eq!(
            columns::<follow::Entity>(),
            <follow::Model as Fields>::FIELDS
        );
        assert_eq!(
            columns::<favorite::Entity>(),
            <favorite::Model as Fields>::FIELDS
        );
        assert_eq!(columns::<tag::Entity>(), <tag::Model as Fields>::FIELDS);
    }
}
