package android.content;

import android.app.SharedPreferencesImpl;
import android.content.pm.ApplicationInfo;
import android.content.pm.PackageManager;
import android.content.res.AssetManager;
import java.io.File;
import java.util.HashMap;
import java.util.Map;

// Test stand-in for android.content.Context: the phone's app-private folders
// (files/, cache/, no_backup/, shared_prefs/ under one data folder, as on
// Android) and its package. The application context owns them; an Activity
// built on it shares them.
public class Context {
    public static final int MODE_PRIVATE = 0;

    private final Context application; // this, for the application context
    private final File dataDir;
    private final String packageName;
    private final PackageManager packageManager;
    private final AssetManager assets;
    private final ApplicationInfo applicationInfo;
    private final Map<String, SharedPreferences> prefs;

    // Test-only: the application context of an app whose data lives in dataDir.
    public Context(File dataDir, String packageName, PackageManager packageManager, AssetManager assets, ApplicationInfo info) {
        this.application = this;
        this.dataDir = dataDir;
        this.packageName = packageName;
        this.packageManager = packageManager;
        this.assets = assets;
        this.applicationInfo = info;
        this.prefs = new HashMap<>();
    }

    // A context over the application's data (Activity).
    protected Context(Context base) {
        this.application = base.getApplicationContext();
        this.dataDir = base.dataDir;
        this.packageName = base.packageName;
        this.packageManager = base.packageManager;
        this.assets = base.assets;
        this.applicationInfo = base.applicationInfo;
        this.prefs = base.prefs;
    }

    public Context getApplicationContext() {
        return application;
    }

    public File getFilesDir() {
        return dir("files");
    }

    public File getCacheDir() {
        return dir("cache");
    }

    public File getNoBackupFilesDir() {
        return dir("no_backup");
    }

    public AssetManager getAssets() {
        return assets;
    }

    public PackageManager getPackageManager() {
        return packageManager;
    }

    public String getPackageName() {
        return packageName;
    }

    // One instance per name and process, as on Android.
    public SharedPreferences getSharedPreferences(String name, int mode) {
        synchronized (prefs) {
            return prefs.computeIfAbsent(name, (n) -> new SharedPreferencesImpl(new File(dir("shared_prefs"), n + ".properties")));
        }
    }

    public ApplicationInfo getApplicationInfo() {
        return applicationInfo;
    }

    private File dir(String name) {
        File d = new File(dataDir, name);
        d.mkdirs(); // Android creates these folders on first use
        return d;
    }
}
