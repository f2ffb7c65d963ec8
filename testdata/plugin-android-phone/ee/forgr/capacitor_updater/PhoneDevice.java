package ee.forgr.capacitor_updater;

import android.app.Activity;
import android.content.Context;
import android.content.pm.ApplicationInfo;
import android.content.pm.PackageInfo;
import android.content.pm.PackageManager;
import android.content.res.AssetManager;
import android.os.Build;
import androidx.lifecycle.LifecycleOwner;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

// Ours: the Android side of the phone, built from PhoneSettings: the Build
// values the plugin's isEmulator() reads, the installed package, and the
// app's data folder (STATE_DIR/data, kept between runs like app data).
final class PhoneDevice {

    // The app's activity: AndroidX's ComponentActivity is a LifecycleOwner,
    // which the plugin requires to observe its download work.
    static final class AppActivity extends Activity implements LifecycleOwner {
        AppActivity(Context application) {
            super(application);
        }
    }

    final Context application;
    final AppActivity activity;

    PhoneDevice(PhoneSettings s) throws IOException {
        if (s.isEmulator) {
            // The Android Studio emulator (API 34, x86_64 system image).
            Build.BRAND = "google";
            Build.DEVICE = "emu64xa";
            Build.FINGERPRINT = "google/sdk_gphone64_x86_64/emu64xa:14/UE1A.230829.036.A1/11228894:user/release-keys";
            Build.HARDWARE = "ranchu";
            Build.MODEL = "sdk_gphone64_x86_64";
            Build.MANUFACTURER = "Google";
            Build.PRODUCT = "sdk_gphone64_x86_64";
        } // else the Pixel 6 of the Build stand-in
        Build.VERSION.SDK_INT = 34;
        Build.VERSION.RELEASE = "14";

        PackageInfo pkg = new PackageInfo();
        pkg.packageName = s.appId;
        pkg.versionName = s.nativeVersion;
        pkg.longVersionCode = Long.parseLong(s.versionCode);
        ApplicationInfo info = new ApplicationInfo();
        info.flags = s.isProd ? 0 : ApplicationInfo.FLAG_DEBUGGABLE;
        application = new Context(new File(s.state, "data"), s.appId, new PackageManager(pkg, s.installer), new AssetManager(apkAssets(s)), info);
        activity = new AppActivity(application);
    }

    // The APK's assets: the built-in web bundle under public/, copied once
    // from builtin_dir (an APK does not change while it is installed).
    private static File apkAssets(PhoneSettings s) throws IOException {
        if (s.builtinDir == null) {
            return null;
        }
        File assets = new File(s.state, "apk-assets");
        if (!assets.isDirectory()) {
            Path from = s.builtinDir.toPath();
            Path tmp = Files.createTempDirectory(s.state.toPath(), "apk-assets");
            Path to = tmp.resolve("public");
            try (Stream<Path> walk = Files.walk(from)) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    Path dst = to.resolve(from.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(dst);
                    } else {
                        Files.copy(p, dst, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
            }
            Files.move(tmp, assets.toPath(), StandardCopyOption.ATOMIC_MOVE);
        }
        return assets;
    }
}
