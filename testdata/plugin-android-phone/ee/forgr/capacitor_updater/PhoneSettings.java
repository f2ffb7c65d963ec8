package ee.forgr.capacitor_updater;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Properties;

// Ours: what a phone is and how the app on it is configured, read from
// STATE_DIR/phone.properties (written by server/plugintest before each run):
//   app_id           the Capacitor appId (and the Android package name)
//   native_version   versionName of the installed APK (version_build)
//   version_code     versionCode of the APK (default 1)
//   plugin_version   plugin_version to report (default: the plugin's own)
//   is_emulator      true: Build.* describe the Android Studio emulator
//   is_prod          false: a debuggable build (default true)
//   default_channel  plugins.CapacitorUpdater.defaultChannel
//   public_key_file  file holding plugins.CapacitorUpdater.publicKey as text
//   update_url, stats_url, channel_url   the plugin's URLs
//   builtin_dir      the web folder built into the APK (assets/public/)
//   installer        package of the store that installed the app (default
//                    com.android.vending, Google Play; "" for a sideload)
final class PhoneSettings {
    final File state;
    final String appId;
    final String nativeVersion;
    final String versionCode;
    final String pluginVersion; // "" means the plugin's own
    final boolean isEmulator;
    final boolean isProd;
    final String defaultChannel;
    final String publicKey;
    final String updateUrl;
    final String statsUrl;
    final String channelUrl;
    final File builtinDir; // null: none
    final String installer;

    private PhoneSettings(File state, Properties p) throws IOException {
        this.state = state;
        this.appId = required(p, "app_id");
        this.nativeVersion = required(p, "native_version");
        this.versionCode = p.getProperty("version_code", "1");
        this.pluginVersion = p.getProperty("plugin_version", "");
        this.isEmulator = bool(p, "is_emulator", false);
        this.isProd = bool(p, "is_prod", true);
        this.defaultChannel = p.getProperty("default_channel", "");
        String keyFile = p.getProperty("public_key_file", "");
        this.publicKey = keyFile.isEmpty() ? "" : Files.readString(new File(keyFile).toPath(), StandardCharsets.UTF_8);
        this.updateUrl = required(p, "update_url");
        this.statsUrl = p.getProperty("stats_url", "");
        this.channelUrl = p.getProperty("channel_url", "");
        String builtin = p.getProperty("builtin_dir", "");
        this.builtinDir = builtin.isEmpty() ? null : new File(builtin);
        this.installer = p.getProperty("installer", "com.android.vending");
    }

    static PhoneSettings read(File state) throws IOException {
        File f = new File(state, "phone.properties");
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(f.toPath())) {
            p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
        }
        return new PhoneSettings(state, p);
    }

    private static String required(Properties p, String key) throws IOException {
        String v = p.getProperty(key, "");
        if (v.isEmpty()) {
            throw new IOException("phone.properties: " + key + " is required");
        }
        return v;
    }

    private static boolean bool(Properties p, String key, boolean def) throws IOException {
        String v = p.getProperty(key, "");
        if (v.isEmpty()) {
            return def;
        }
        if (!v.equals("true") && !v.equals("false")) {
            throw new IOException("phone.properties: " + key + " must be true or false, not " + v);
        }
        return v.equals("true");
    }
}
