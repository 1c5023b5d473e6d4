// Submits the page's auto-posting form (the deep-linking response), so no inline script is needed.
"use strict";
(function () {
  var form = document.getElementById("ltigate-autopost");
  if (form) { form.submit(); }
})();
