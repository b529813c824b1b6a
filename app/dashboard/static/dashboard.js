// Live progress for the dashboard's pages: each element with data-progress-url opens one
// server-sent event stream and moves the bars, counts and statuses it names; no reloads.
"use strict";

(function () {
  function byData(name, value) {
    return document.querySelectorAll("[data-" + name + '="' + CSS.escape(value) + '"]');
  }

  function setBar(id, counts) {
    var bar = document.getElementById(id);
    if (!bar) {
      return;
    }
    bar.max = counts.total || 1;
    if (counts.total) {
      bar.value = counts.done;
    } else {
      bar.removeAttribute("value"); // nothing fanned out yet: indeterminate
    }
    byData("count", id).forEach(function (element) {
      element.textContent = counts.done + " / " + counts.total;
    });
    byData("breakdown", id).forEach(function (element) {
      element.textContent = "sent " + counts.sent + ", failed " + counts.failed +
        ", skipped " + counts.skipped + ", retrying " + counts.retrying +
        ", cancelled " + counts.cancelled;
    });
  }

  function show(item) {
    setBar("progress-" + item.id, item.overall);
    Object.keys(item.channels).forEach(function (channel) {
      setBar("progress-" + item.id + "-" + channel, item.channels[channel]);
    });
    byData("status", item.id).forEach(function (element) {
      element.textContent = item.status;
    });
    if (item.finished) {
      document.querySelectorAll("[data-hide-when-finished]").forEach(function (element) {
        element.hidden = true;
      });
    }
  }

  function follow(element) {
    var source = new EventSource(element.dataset.progressUrl);
    source.addEventListener("progress", function (event) {
      JSON.parse(event.data).forEach(show);
    });
    ["done", "ended"].forEach(function (name) {
      source.addEventListener(name, function () {
        source.close();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(follow);
  });
})();
