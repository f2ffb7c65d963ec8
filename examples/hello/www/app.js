// Tells the updater plugin that this bundle started fine. Without this call
// within appReadyTimeout (10 s by default) the plugin rolls the device back
// to the previous bundle. In a plain browser there is no plugin, so the page
// just says so.
(function () {
  var status = document.getElementById('status');
  var cap = window.Capacitor;
  var updater = cap && cap.Plugins && cap.Plugins.CapacitorUpdater;
  if (!updater) {
    status.textContent = 'Running in a browser: no updater plugin here.';
    return;
  }
  updater.notifyAppReady().then(function (res) {
    var b = res && res.bundle;
    status.textContent = 'Bundle ' + (b && b.version ? b.version : 'builtin') + ' is ready.';
  }).catch(function (err) {
    status.textContent = 'notifyAppReady failed: ' + err;
  });
})();
