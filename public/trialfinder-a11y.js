/* trialfinder: accessible names and landmarks that Chainlit 2.12 leaves out.
 *
 * Chainlit offers no setting for these (its icon buttons carry only a tooltip, its logo says "logo",
 * its page has no <main> and no <h1>, the copilot's popover is an unnamed dialog), so this small
 * same-origin script adds them, and adds them again whenever React redraws a part of the page.
 * It only sets attributes (and one visually hidden heading); it never changes what the app does.
 * Loaded by the chat page through .chainlit/config.toml [UI] custom_js, and by a site embedding the
 * widget next to copilot/index.js, where it patches the widget's shadow root the same way.
 */
(function () {
  "use strict";

  // Icon buttons by their stable id.
  var BUTTON_NAMES = {
    "new-chat-button": "New chat",
    "chat-settings-open-modal": "Patient profile",
    "chat-submit": "Send message",
    "stop-button": "Stop answering",
    "chainlit-copilot-button": "Open the trial finder chat",
  };
  // Icon-only buttons without an id, named after their lucide icon.
  var ICON_NAMES = {
    "lucide-copy": "Copy answer",
    "lucide-check": "Copied",
    "lucide-arrow-left": "Back to the chat",
    "lucide-arrow-down": "Scroll to the latest message",
    "lucide-x": "Close",
    "lucide-maximize": "Expand",
    "lucide-minimize": "Shrink",
    "lucide-panel-right": "Show as side panel",
    "lucide-message-circle": "Open the trial finder chat",
    "lucide-square-pen": "New chat",
    "lucide-settings": "Patient profile",
  };
  var LOGO_ALT = "trialfinder logo";
  var HEADING = "trialfinder: find clinical trials and check who can join";

  function hasName(el) {
    return (
      el.getAttribute("aria-label") ||
      el.getAttribute("aria-labelledby") ||
      (el.textContent || "").trim() ||
      el.querySelector("img[alt]:not([alt=''])")
    );
  }

  function iconName(button) {
    var svg = button.querySelector("svg");
    if (!svg) return null;
    var classes = (svg.getAttribute("class") || "").split(/\s+/);
    var fallback = null;
    for (var i = 0; i < classes.length; i++) {
      if (ICON_NAMES[classes[i]]) return ICON_NAMES[classes[i]];
      // An icon this list does not know yet still gets its icon's name ("lucide-arrow-up" -> "Arrow up").
      if (!fallback && classes[i].indexOf("lucide-") === 0) {
        var words = classes[i].slice(7).replace(/-/g, " ");
        fallback = words.charAt(0).toUpperCase() + words.slice(1);
      }
    }
    return fallback;
  }

  function nameButtons(root) {
    Object.keys(BUTTON_NAMES).forEach(function (id) {
      var el = root.querySelector("#" + id);
      if (el && !hasName(el)) el.setAttribute("aria-label", BUTTON_NAMES[id]);
    });
    root.querySelectorAll("button").forEach(function (button) {
      if (hasName(button)) return;
      var name = iconName(button);
      if (name) button.setAttribute("aria-label", name);
    });
  }

  function nameImages(root) {
    root.querySelectorAll("img:not([alt]), img[alt='logo']").forEach(function (img) {
      img.setAttribute("alt", LOGO_ALT);
    });
  }

  function markConversation(root) {
    // Messages and the first screen share one container: a log, read out politely as answers arrive.
    var anchor = root.querySelector("#welcome-screen") || root.querySelector("[data-step-type]");
    var log = anchor && anchor.parentElement;
    if (log && !log.getAttribute("role")) {
      log.setAttribute("role", "log");
      log.setAttribute("aria-live", "polite");
      log.setAttribute("aria-label", "Conversation");
    }
  }

  function markPage(root) {
    var header = root.querySelector("#header");
    if (!header) return;
    header.setAttribute("role", "banner");
    var main = header.nextElementSibling;
    if (main && main.getAttribute("role") !== "main") main.setAttribute("role", "main");
    if (!root.querySelector("h1")) {
      var h1 = document.createElement("h1");
      h1.textContent = HEADING;
      h1.className = "sr-only";
      header.insertBefore(h1, header.firstChild);
    }
  }

  function markWidget(shadow) {
    // The copilot's popover is a dialog without a title; a passage dialog has its own (aria-labelledby).
    shadow.querySelectorAll("[role='dialog']").forEach(function (dialog) {
      if (!dialog.getAttribute("aria-label") && !dialog.getAttribute("aria-labelledby")) {
        dialog.setAttribute("aria-label", "Trial finder chat");
      }
    });
  }

  function patch(root, isWidget) {
    nameButtons(root);
    nameImages(root);
    markConversation(root);
    if (isWidget) markWidget(root);
    else markPage(root);
  }

  function watch(root, isWidget) {
    var queued = false;
    var run = function () {
      queued = false;
      patch(root, isWidget);
    };
    run();
    new MutationObserver(function () {
      if (!queued) {
        queued = true;
        requestAnimationFrame(run);
      }
    }).observe(root, { childList: true, subtree: true });
  }

  function start() {
    var page = document.getElementById("root");
    if (page) watch(document, false);
    // The widget mounts into an open shadow root on the host page, possibly after this script runs.
    var host = document.getElementById("chainlit-copilot");
    if (host && host.shadowRoot) {
      watch(host.shadowRoot, true);
      return;
    }
    if (!page) {
      var waiting = new MutationObserver(function () {
        var mounted = document.getElementById("chainlit-copilot");
        if (mounted && mounted.shadowRoot) {
          waiting.disconnect();
          watch(mounted.shadowRoot, true);
        }
      });
      waiting.observe(document.body, { childList: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
