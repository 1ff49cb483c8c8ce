// Relata's interactive API page: renders every operation of the OpenAPI document served
// by this same binary, and lets a reader send requests from the browser. No external
// scripts, styles or fonts, so it works on an offline network.
(function () {
  "use strict";
  var METHODS = ["get", "post", "put", "patch", "delete"];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  // Follows `#/components/<kind>/<name>` references (schemas, responses, parameters).
  function resolve(doc, schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 10) {
      var parts = schema.$ref.replace("#/components/", "").split("/");
      schema = ((doc.components || {})[parts[0]] || {})[parts[1]];
    }
    return schema || {};
  }

  function example(doc, schema, depth) {
    schema = resolve(doc, schema);
    if (depth > 4) return null;
    if (schema.example !== undefined) return schema.example;
    var type = Array.isArray(schema.type) ? schema.type.filter(function (t) { return t !== "null"; })[0] : schema.type;
    if (schema.oneOf || schema.anyOf) return example(doc, (schema.oneOf || schema.anyOf)[0], depth + 1);
    if (type === "object" || schema.properties) {
      var out = {};
      Object.keys(schema.properties || {}).forEach(function (k) { out[k] = example(doc, schema.properties[k], depth + 1); });
      return out;
    }
    if (type === "array") return [example(doc, schema.items || {}, depth + 1)];
    if (type === "integer" || type === "number") return 1;
    if (type === "boolean") return true;
    if (type === "string") return "";
    return null;
  }

  function paramRows(params) {
    if (!params.length) return null;
    var table = el("table", {}, [el("tr", {}, [el("th", { text: "parameter" }), el("th", { text: "in" }), el("th", { text: "value" })])]);
    params.forEach(function (p) {
      var input = el("input", { type: "text", "data-name": p.name, "data-in": p.in, placeholder: p.required ? "required" : "" });
      table.appendChild(el("tr", {}, [el("td", { text: p.name + (p.description ? " — " + p.description : "") }), el("td", { text: p.in }), el("td", {}, [input])]));
    });
    return table;
  }

  function operation(doc, path, method, op) {
    var params = (op.parameters || []).map(function (p) { return p.$ref ? resolve(doc, p) : p; });
    var bodySchema = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    var textarea = bodySchema ? el("textarea", {}, []) : null;
    if (textarea) textarea.value = JSON.stringify(example(doc, bodySchema.schema, 0), null, 2);
    var result = el("pre", { "class": "result", text: "" });
    var send = el("button", { type: "button", text: "Send" });
    var responses = el("table", {}, [el("tr", {}, [el("th", { text: "status" }), el("th", { text: "meaning" })])]);
    Object.keys(op.responses || {}).forEach(function (code) {
      responses.appendChild(el("tr", {}, [el("td", { text: code }), el("td", { text: resolve(doc, op.responses[code]).description || "" })]));
    });
    var body = el("div", { "class": "op-body" }, [
      op.description ? el("p", { text: op.description }) : null,
      paramRows(params),
      textarea,
      send,
      el("h4", { text: "Responses" }),
      responses,
      result
    ]);
    send.addEventListener("click", function () {
      var url = path, query = [];
      body.querySelectorAll("input[data-name]").forEach(function (input) {
        if (!input.value) return;
        var name = input.getAttribute("data-name");
        if (input.getAttribute("data-in") === "path") url = url.replace("{" + name + "}", encodeURIComponent(input.value));
        else if (input.getAttribute("data-in") === "query") query.push(encodeURIComponent(name) + "=" + encodeURIComponent(input.value));
      });
      if (query.length) url += "?" + query.join("&");
      var headers = {};
      var token = document.getElementById("token").value.trim();
      if (token) headers["Authorization"] = "Bearer " + token;
      var init = { method: method.toUpperCase(), headers: headers };
      if (textarea) { headers["Content-Type"] = "application/json"; init.body = textarea.value; }
      result.textContent = "…";
      fetch(url, init).then(function (res) {
        return res.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          result.textContent = res.status + " " + res.statusText +
            "\nX-Query-Count: " + (res.headers.get("x-query-count") || "-") + "\n\n" + shown;
        });
      }).catch(function (err) { result.textContent = "request failed: " + err; });
    });
    return el("details", { "class": "op", id: method + " " + path }, [
      el("summary", {}, [
        el("span", { "class": "method " + method, text: method }),
        el("span", { "class": "path", text: path }),
        el("span", { text: op.summary || "" })
      ]),
      body
    ]);
  }

  function render(doc) {
    var main = document.getElementById("operations");
    var byTag = {};
    var count = 0;
    Object.keys(doc.paths || {}).sort().forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = doc.paths[path][method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "other";
        (byTag[tag] = byTag[tag] || []).push(operation(doc, path, method, op));
        count++;
      });
    });
    Object.keys(byTag).sort().forEach(function (tag) {
      main.appendChild(el("section", { "class": "tag" }, [el("h2", { text: tag })].concat(byTag[tag])));
    });
    document.getElementById("summary").textContent =
      (doc.info && doc.info.title || "API") + " " + (doc.info && doc.info.version || "") + " — " + count + " operations";
    document.body.setAttribute("data-rendered", String(count));
  }

  fetch("/api/v1/openapi.json").then(function (r) { return r.json(); }).then(render).catch(function (err) {
    document.getElementById("summary").textContent = "Could not load the OpenAPI document: " + err;
  });
})();
