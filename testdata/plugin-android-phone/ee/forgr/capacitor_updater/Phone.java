package ee.forgr.capacitor_updater;

// Phone runs the update path of @capgo/capacitor-updater's Android code the
// way an app on a phone does, one app launch per process, with the phone's
// storage in STATE_DIR between runs.
//
// The plugin's code: CapgoUpdater, DownloadService, DownloadWorkerManager,
// DataManager, BundleInfo, CryptoCipher, Logger ... compiled whole and
// unmodified from the npm package, and PluginSlice's members copied from
// CapacitorUpdaterPlugin.java. Ours: this class, which does what
// CapacitorUpdaterPlugin does around them (load, backgroundDownload,
// installNext; each step names the plugin method it follows), and the
// Android, AndroidX, Capacitor, OkHttp and Brotli stand-ins under
// testdata/plugin-android*/.
//
//   check STATE_DIR
//     Reads STATE_DIR/phone.properties (see PhoneSettings), then
//      1. launch: load()'s set-up of CapgoUpdater, autoReset; the web app of
//         the current bundle calls notifyAppReady (setSuccess);
//      2. update check, as backgroundDownload: getLatest(updateUrl), then
//         by the answer: an error or kind stops there (a download_fail stat
//         when the plugin files it as "failed"); a version other than the
//         current bundle's is downloaded (downloadBackground: WorkManager
//         runs DownloadService, then finishDownload sets it as next bundle);
//      3. the app goes to the background, as installNext: set(next bundle),
//         and its web app calls notifyAppReady (setSuccess, which deletes
//         the bundle it replaces);
//      4. waits until the plugin's background work is done and every stat
//         it queued went out, then prints what happened.
//     Exit 0 when the run completed (whatever the plugin decided), 1 when
//     the phone itself failed (a crash, a time-out), 2 on bad usage.
//     Not mirrored: checkRevert (the phone's web bundles always call
//     notifyAppReady), cleanupObsoleteVersions on a native update, delay
//     conditions, direct updates, the channel calls, app lifecycle stats.
//
// Output: one record a line, fields tab-separated (tab, line feed and
// backslash escaped as \t \n \\):
//   device_id  ID
//   request    JSON  STATUS            the update check's body as sent, and the HTTP status
//   answer     JSON                    what getLatest passed to its callback
//   kind       KIND                    normalizedUpdateResponseKind, for an answer with error or kind
//   outcome    WORD                    which branch of backgroundDownload the phone took:
//                                      up_to_date, blocked, failed, no_update, builtin, bad_url,
//                                      bundle_in_error, reuse, download, error
//   stat       ACTION  VERSION_NAME  OLD_VERSION_NAME  STATUS   each stats event sent
//   http       METHOD  URL  STATUS     any other request of the plugin's client
//   event      NAME  JSON              events the plugin sent to the web app
//   work       STATE  RUN_ATTEMPTS  ERROR   each download work request
//   bundle     ID  VERSION  STATUS     every bundle the plugin lists
//   current    ID  VERSION  STATUS     the bundle the app runs at the end
//   file       PATH  SIZE  SHA256      every file of the current bundle (none for builtin)
//   crash      WHERE  EXCEPTION        an exception escaped a thread of the app
//   done

import android.app.Activity;
import android.content.SharedPreferences;
import android.os.Build;
import android.os.Looper;
import androidx.work.WorkInfo;
import androidx.work.WorkManager;
import com.getcapacitor.JSObject;
import com.getcapacitor.plugin.WebView;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import okhttp3.Dispatcher;
import org.json.JSONArray;
import org.json.JSONObject;

public final class Phone {

    private static final PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    private static final long RUN_TIMEOUT_MS = 45_000; // the Go side gives the JVM 60 s
    private static final String DEVICE_ID_KEY = "appUUID"; // DeviceIdHelper's copy of the device id in the prefs

    private final PhoneSettings settings;
    private final long deadline = System.currentTimeMillis() + RUN_TIMEOUT_MS;
    private volatile Throwable crash;
    private PhoneDevice device;
    private PluginSlice plugin;
    private CapgoUpdater implementation;
    private PhoneExecutor io;
    private PhoneWire wire;

    private Phone(PhoneSettings settings) {
        this.settings = settings;
    }

    public static void main(String[] args) {
        if (args.length != 2 || !args[0].equals("check")) {
            System.err.println("usage: Phone check STATE_DIR");
            System.exit(2);
        }
        int code;
        try {
            code = new Phone(PhoneSettings.read(new File(args[1]))).run();
        } catch (Throwable t) {
            t.printStackTrace();
            emit("crash", "phone", t.toString());
            code = 1;
        }
        System.exit(code); // the plugin's executors and OkHttp's threads would keep the JVM up
    }

    private int run() throws Exception {
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            if (crash == null) {
                crash = e;
            }
            System.err.println("uncaught in " + thread.getName() + ":");
            e.printStackTrace();
        });
        launch();
        // getLatest's callback; no answer in time is the phone's failure, not the plugin's.
        final CompletableFuture<Map<String, Object>> answer = new CompletableFuture<>();
        implementation.getLatest(settings.updateUrl, null, answer::complete);
        final Map<String, Object> res = answer.get(remaining(), TimeUnit.MILLISECONDS);
        String outcome;
        try {
            outcome = onUpdateAnswer(res);
        } catch (Exception e) {
            // backgroundDownload: "Error in update check" ends with a download_fail stat.
            e.printStackTrace();
            implementation.sendStats("download_fail", implementation.getCurrentBundle().getVersionName());
            outcome = "error";
        }
        emit("outcome", outcome);
        waitIdle();
        goToBackground();
        waitIdle();
        report();
        implementation.shutdown(); // CapacitorUpdaterPlugin.handleOnDestroy
        Throwable c = crash != null ? crash : Looper.getMainLooper().crash() != null ? Looper.getMainLooper().crash() : io.crash();
        if (c != null) {
            emit("crash", "app", c.toString());
            return 1;
        }
        emit("done");
        return 0;
    }

    // CapacitorUpdaterPlugin.load, the parts the update path depends on.
    private void launch() throws Exception {
        device = new PhoneDevice(settings);
        WorkManager.getInstance(device.application); // androidx.startup initializes WorkManager at app start
        final Activity activity = device.activity;
        final Logger logger = new Logger("CapgoUpdater");
        final SharedPreferences prefs = activity.getSharedPreferences(WebView.WEBVIEW_PREFS_NAME, Activity.MODE_PRIVATE);
        final SharedPreferences.Editor editor = prefs.edit();

        plugin = new PluginSlice(logger);
        // As load()'s anonymous subclass: progress and events go through the main thread to the plugin.
        implementation = new CapgoUpdater(logger) {
            @Override
            public void notifyDownload(final String id, final int percent) {
                activity.runOnUiThread(() -> plugin.notifyDownload(id, percent));
            }

            @Override
            public void directUpdateFinish(final BundleInfo latest) {
                emit("event", "directUpdateFinish", latest.toString()); // not reached: autoUpdate is atBackground
            }

            @Override
            public void notifyListeners(final String id, final Map<String, Object> res) {
                activity.runOnUiThread(() -> plugin.notifyListeners(id, InternalUtils.mapToJSObject(res)));
            }
        };
        plugin.implementation = implementation;
        observeBackgroundWork();

        implementation.activity = activity;
        implementation.versionBuild = settings.nativeVersion; // config "version", else the APK's versionName
        implementation.CAP_SERVER_PATH = WebView.CAP_SERVER_PATH;
        implementation.pluginVersion = settings.pluginVersion.isEmpty() ? plugin.reportedPluginVersion() : settings.pluginVersion;
        implementation.versionCode = settings.versionCode;
        CryptoCipher.setLogger(logger);
        DownloadService.setLogger(logger);
        DownloadWorkerManager.setLogger(logger);
        implementation.appId = settings.appId;
        implementation.setPublicKey(settings.publicKey);
        implementation.statsUrl = settings.statsUrl;
        implementation.channelUrl = settings.channelUrl;
        implementation.defaultChannel = settings.defaultChannel;
        implementation.documentsDir = activity.getFilesDir();
        implementation.noBackupDir = activity.getNoBackupFilesDir();
        implementation.prefs = prefs;
        implementation.editor = editor;
        implementation.versionOs = Build.VERSION.RELEASE;
        implementation.deviceID = deviceId(prefs, editor);
        implementation.restorePendingStats();
        DownloadService.updateUserAgent(implementation.appId, implementation.pluginVersion, implementation.versionOs);
        implementation.timeout = 20_000; // responseTimeout default, 20 s
        DownloadService.applyHttpTimeouts(implementation.timeout);
        implementation.directUpdate = false; // autoUpdate default: atBackground
        implementation.autoReset(settings.versionCode, true);
        emit("device_id", implementation.deviceID);

        // The web app of the current bundle starts and calls notifyAppReady().
        implementation.setSuccess(implementation.getCurrentBundle(), true);
    }

    // Ours: the phone watches the plugin's background work and traffic.
    private void observeBackgroundWork() throws ReflectiveOperationException {
        // CapgoUpdater.io runs finishDownload and deletions; a counting
        // single-thread executor in its place tells when they are done.
        Field f = CapgoUpdater.class.getDeclaredField("io");
        f.setAccessible(true);
        ((ExecutorService) f.get(implementation)).shutdown();
        io = new PhoneExecutor("capgo-io");
        f.set(implementation, io);
        wire = new PhoneWire(settings.updateUrl, settings.statsUrl);
        DownloadService.sharedClient = DownloadService.sharedClient.newBuilder().addInterceptor(wire).build();
    }

    // DeviceIdHelper.getOrCreateDeviceId: a random lowercase UUID kept for
    // the app's lifetime (the plugin keeps it in encrypted preferences and
    // mirrors it to appUUID; the phone keeps the mirror only).
    private static String deviceId(SharedPreferences prefs, SharedPreferences.Editor editor) {
        String id = prefs.getString(DEVICE_ID_KEY, "");
        if (id.isEmpty()) {
            id = UUID.randomUUID().toString().toLowerCase();
            editor.putString(DEVICE_ID_KEY, id);
            editor.commit();
        }
        return id;
    }

    // CapacitorUpdaterPlugin.backgroundDownload's callback of getLatest,
    // with autoUpdate atBackground (no direct update, no delay conditions,
    // no preview session); returns the branch taken.
    private String onUpdateAnswer(final Map<String, Object> res) throws Exception {
        emit("answer", new JSONObject(res).toString());
        final JSObject jsRes = InternalUtils.mapToJSObject(res);
        final BundleInfo currentBeforeCleanup = implementation.getCurrentBundle();

        if (jsRes.has("error") || jsRes.has("kind")) {
            final String kind = PluginSlice.normalizedUpdateResponseKind(jsRes.has("kind") ? jsRes.getString("kind") : null);
            emit("kind", kind);
            if ("failed".equals(kind)) {
                // endBackGroundTaskWithNotif(..., error true, ..., "download_fail", "downloadFailed", isFailure)
                implementation.sendStats("download_fail", currentBeforeCleanup.getVersionName());
            }
            return kind;
        }
        final BundleInfo current = implementation.getCurrentBundle();
        final String latestVersionName = jsRes.getString("version");
        if ("builtin".equals(latestVersionName)) {
            implementation.setNextBundle(BundleInfo.ID_BUILTIN);
            return "builtin";
        }
        if (!jsRes.has("url") || !plugin.validUpdateURL(jsRes.getString("url"))) {
            // "Error no url or wrong format": endBackGroundTaskWithNotif with error true.
            implementation.sendStats("download_fail", current.getVersionName());
            return "bad_url";
        }
        if (latestVersionName == null || latestVersionName.isEmpty() || current.getVersionName().equals(latestVersionName)) {
            return "no_update"; // "No need to update"
        }
        final BundleInfo latest = implementation.getBundleInfoByName(latestVersionName);
        if (latest != null) {
            if (latest.isErrorStatus()) {
                implementation.sendStats("download_fail", current.getVersionName());
                return "bundle_in_error";
            }
            final String latestSessionKey = jsRes.has("sessionKey") ? jsRes.getString("sessionKey") : "";
            if (
                latest.isDownloaded() &&
                BundleStatus.DOWNLOADING != latest.getStatus() &&
                (implementation.publicKey.isEmpty() || CryptoCipher.isValidSessionKey(latestSessionKey))
            ) {
                implementation.setNextBundle(latest.getId());
                return "reuse";
            }
            if (latest.isDeleted()) {
                try {
                    implementation.delete(latest.getId(), true);
                } catch (final IOException e) {
                    e.printStackTrace(); // logged by the plugin, the download goes on
                }
            }
        }
        implementation.directUpdate = false;
        final String url = jsRes.getString("url");
        final String sessionKey = jsRes.has("sessionKey") ? jsRes.getString("sessionKey") : "";
        final String checksum = jsRes.has("checksum") ? jsRes.getString("checksum") : "";
        try {
            final JSONArray manifest = jsRes.has("manifest") ? jsRes.getJSONArray("manifest") : null;
            implementation.downloadBackground(url, latestVersionName, sessionKey, checksum, manifest, true);
        } catch (Exception e) {
            // "Error downloading file": endBackGroundTaskWithNotif with error true.
            e.printStackTrace();
            implementation.sendStats("download_fail", implementation.getCurrentBundle().getVersionName());
        }
        return "download";
    }

    // CapacitorUpdaterPlugin.installNext when the app moves to the
    // background, then notifyAppReady() from the new bundle's web app.
    private void goToBackground() {
        final BundleInfo current = implementation.getCurrentBundle();
        final BundleInfo next = implementation.getNextBundle();
        if (next != null && !next.isErrorStatus() && !next.getId().equals(current.getId())) {
            if (implementation.set(next)) { // && _reload(): the web view loads the new bundle
                implementation.setNextBundle(null);
                implementation.setSuccess(implementation.getCurrentBundle(), true);
            }
        }
    }

    // Ours: waits until nothing of the app is running or queued: the main
    // thread, CapgoUpdater.io, OkHttp's calls and the stats queue. The
    // plugin sends queued stats once a second; the phone calls the plugin's
    // flush at once instead of waiting for that timer.
    private void waitIdle() throws Exception {
        final Looper main = Looper.getMainLooper();
        final Method flush = CapgoUpdater.class.getDeclaredMethod("flushStatsQueue");
        flush.setAccessible(true);
        final Field inFlightField = CapgoUpdater.class.getDeclaredField("statsFlushInFlight");
        inFlightField.setAccessible(true);
        final AtomicBoolean inFlight = (AtomicBoolean) inFlightField.get(implementation);
        while (true) {
            final long before = main.posted() + io.submitted() + wire.requests();
            waitFor("the app's threads", () -> main.idle() && io.idle());
            if (implementation.pendingStatsCount() > 0 && !inFlight.get()) {
                flush.invoke(implementation);
            }
            waitFor("the plugin's HTTP requests", () -> {
                Dispatcher d = DownloadService.sharedClient.dispatcher();
                return d.runningCallsCount() + d.queuedCallsCount() == 0 && !inFlight.get();
            });
            final long after = main.posted() + io.submitted() + wire.requests();
            if (after == before && main.idle() && io.idle() && implementation.pendingStatsCount() == 0) {
                return;
            }
        }
    }

    private void waitFor(String what, BooleanSupplier done) throws Exception {
        while (!done.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("timed out after " + RUN_TIMEOUT_MS + " ms waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    private long remaining() {
        return Math.max(1, deadline - System.currentTimeMillis());
    }

    private void report() throws Exception {
        for (String[] r : wire.records()) {
            emit(r);
        }
        synchronized (plugin.events) {
            for (String[] e : plugin.events) {
                emit("event", e[0], e[1]);
            }
        }
        for (WorkInfo w : WorkManager.getInstance(device.application).allWorkInfos()) {
            if (w.getTags().contains("capacitor_updater_download")) {
                String error = w.getOutputData().getString(DownloadService.ERROR);
                emit("work", w.getState().toString(), String.valueOf(w.getRunAttemptCount()), error == null ? "" : error);
            }
        }
        for (BundleInfo b : implementation.list(false)) {
            emit("bundle", b.getId(), b.getVersionName(), b.getStatus().toString());
        }
        final BundleInfo current = implementation.getCurrentBundle();
        emit("current", current.getId(), current.getVersionName(), current.getStatus().toString());
        if (!current.isBuiltin()) {
            final Path root = new File(implementation.getCurrentBundlePath()).toPath();
            final List<Path> files;
            try (Stream<Path> walk = Files.walk(root)) {
                files = walk.filter(Files::isRegularFile).sorted().collect(Collectors.toList());
            }
            for (Path p : files) {
                emit("file", root.relativize(p).toString().replace(File.separatorChar, '/'), String.valueOf(Files.size(p)), sha256(p));
            }
        }
    }

    private static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) != -1) {
                md.update(buf, 0, n);
            }
        }
        StringBuilder sb = new StringBuilder();
        for (byte b : md.digest()) {
            sb.append(String.format("%02x", b & 0xff));
        }
        return sb.toString();
    }

    static void emit(String... fields) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                sb.append('\t');
            }
            String f = fields[i] == null ? "" : fields[i];
            sb.append(f.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"));
        }
        synchronized (out) {
            out.println(sb);
        }
    }
}
