package android.content.pm;

// Test stand-in: what the plugin reads of the installed package.
public class PackageInfo {
    public String packageName;
    public String versionName;
    public long longVersionCode;

    public long getLongVersionCode() {
        return longVersionCode;
    }
}
