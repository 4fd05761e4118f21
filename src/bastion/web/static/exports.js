// The export page: a download link the server just handed out (a ticket, usable once) is
// followed at once, so one press of "Export" starts the file; the progress beside it is
// polled by htmx. Following the link keeps the page: the answer is an attachment.
(function () {
  "use strict";

  function startDownloads(root) {
    var links = (root || document).querySelectorAll("a[data-autostart]");
    for (var i = 0; i < links.length; i++) {
      links[i].removeAttribute("data-autostart");
      links[i].click();
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) { startDownloads(event.target); });
  document.addEventListener("DOMContentLoaded", function () { startDownloads(document); });
})();
