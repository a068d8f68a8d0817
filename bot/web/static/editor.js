// The profile editor: previews the draft as it is typed (debounced), by POSTing the form to
// the same address a plain submit uses and swapping in the #result section of the answer.
// Without JavaScript the Preview button does the same with a page load.
"use strict";
(function () {
  const form = document.getElementById("editor");
  const text = document.getElementById("text");
  const result = document.getElementById("result");
  if (!form || !text || !result) return;
  let timer = null;
  let sent = 0;
  async function preview() {
    const mine = ++sent;
    result.setAttribute("aria-busy", "true");
    try {
      const answer = await fetch(form.dataset.preview, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
      });
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("result");
      if (mine === sent && fresh) result.replaceChildren(...fresh.childNodes);
    } finally {
      if (mine === sent) result.removeAttribute("aria-busy");
    }
  }
  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(preview, 400);
  });
})();
