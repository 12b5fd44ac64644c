// /docs: the vendored Swagger UI on this server's own OpenAPI document (an external script: no inline code).
window.addEventListener("load", function () {
  "use strict";
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
});
