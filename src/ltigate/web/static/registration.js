// Dynamic Registration pages: tell the LMS to close its frame or tab (LTI DR 1.0 §3.6), with no inline script.
"use strict";

(function () {
  function close() {
    (window.opener || window.parent).postMessage({subject: 'org.imsglobal.lti.close'}, '*');
  }

  function start() {
    var buttons = document.querySelectorAll("button[data-lti-close]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", close);
    }
    // The closing page: the registration is done, the LMS takes over at once.
    if (document.getElementById("lti-close-now")) { close(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
