package android.content.pm;

// Test stand-in for the one installed package the phone knows: its own.
// Unknown package names throw NameNotFoundException, as on Android.
public class PackageManager {
    private final PackageInfo info;
    private final String installer;

    // Test-only constructor: the app's package and the store that installed it ("" for none).
    public PackageManager(PackageInfo info, String installer) {
        this.info = info;
        this.installer = installer;
    }

    public PackageInfo getPackageInfo(String packageName, PackageInfoFlags flags) throws NameNotFoundException {
        return getPackageInfo(packageName, (int) flags.getValue());
    }

    public PackageInfo getPackageInfo(String packageName, int flags) throws NameNotFoundException {
        check(packageName);
        return info;
    }

    public InstallSourceInfo getInstallSourceInfo(String packageName) throws NameNotFoundException {
        check(packageName);
        return new InstallSourceInfo(installer.isEmpty() ? null : installer, null);
    }

    @Deprecated
    public String getInstallerPackageName(String packageName) {
        return installer.isEmpty() ? null : installer;
    }

    private void check(String packageName) throws NameNotFoundException {
        if (!info.packageName.equals(packageName)) {
            throw new NameNotFoundException(packageName);
        }
    }

    public static class NameNotFoundException extends Exception {
        public NameNotFoundException(String name) {
            super(name);
        }
    }

    public static final class PackageInfoFlags {
        private final long value;

        private PackageInfoFlags(long value) {
            this.value = value;
        }

        public static PackageInfoFlags of(long value) {
            return new PackageInfoFlags(value);
        }

        public long getValue() {
            return value;
        }
    }
}
