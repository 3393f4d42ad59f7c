// Dockerfile highlighting for the book. mdBook's bundled highlight.js has no Dockerfile
// grammar, so this marks instructions, comments, strings and variables itself, after the page
// loads. Written for this book; no dependency.
(function () {
  const INSTRUCTIONS = ["FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "AS"];
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  function line(text) {
    if (/^\s*#/.test(text)) return '<span class="hljs-comment">' + esc(text) + "</span>";
    let out = "";
    const re = /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)|([A-Za-z]+)|([^"'$A-Za-z]+|.)/g;
    let m, first = true;
    while ((m = re.exec(text)) !== null) {
      if (m[1]) out += '<span class="hljs-string">' + esc(m[1]) + "</span>";
      else if (m[2]) out += '<span class="hljs-variable">' + esc(m[2]) + "</span>";
      else if (m[3] && (first || m[3] === "AS") && INSTRUCTIONS.includes(m[3].toUpperCase()))
        out += '<span class="hljs-keyword">' + esc(m[3]) + "</span>";
      else out += esc(m[0]);
      if (m[3] || m[1]) first = false;
    }
    return out;
  }
  function highlight() {
    document.querySelectorAll("code.language-dockerfile").forEach((code) => {
      if (code.dataset.labHighlighted) return;
      code.innerHTML = code.textContent.split("\n").map(line).join("\n");
      code.dataset.labHighlighted = "1";
      code.classList.add("hljs");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", highlight);
  else highlight();
})();
