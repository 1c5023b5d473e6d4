// ltigate console: progressive niceties only. Every action works without this script.
"use strict";

(function () {
  // Copy buttons: shown only when scripts run; copy the value of the field they name.
  function copyText(input, button) {
    var text = input.value;
    function done() {
      button.textContent = "Copied";
      button.classList.add("done");
      setTimeout(function () {
        button.textContent = "Copy";
        button.classList.remove("done");
      }, 2000);
    }
    function fallback() {
      input.focus();
      input.select();
      try {
        if (document.execCommand("copy")) { done(); }
      } catch (e) { /* the text stays selected for Ctrl+C */ }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  function setUpCopyButtons() {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      (function (button) {
        var input = document.getElementById(button.getAttribute("data-copy"));
        if (!input) { return; }
        button.hidden = false;
        button.addEventListener("click", function () { copyText(input, button); });
        input.addEventListener("focus", function () { input.select(); });
      })(buttons[i]);
    }
  }

  // The resource picker shows the chosen resource's target link URI at once (the form does it without JS).
  function setUpPicker() {
    var select = document.getElementById("picker-resource");
    var output = document.getElementById("picked-uri");
    if (!select || !output) { return; }
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      output.value = option.getAttribute("data-uri") || "";
      var title = document.getElementById("picked-title");
      if (title) { title.textContent = option.textContent; }
    });
  }

  // Forms marked data-confirm ask before they post (revoking a key, rotating keys).
  function setUpConfirm() {
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (event) {
        if (!window.confirm(this.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    }
  }

  function start() {
    setUpCopyButtons();
    setUpPicker();
    setUpConfirm();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
