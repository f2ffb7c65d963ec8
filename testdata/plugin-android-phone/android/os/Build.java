package android.os;

// Test stand-in for android.os.Build. The fields are not final (unlike
// Android's) so that javac does not inline them into the plugin's classes:
// Phone sets them before it builds the updater, and the plugin's own
// CapgoUpdater.isEmulator() reads them to decide is_emulator.
public class Build {
    public static String BRAND = "google";
    public static String DEVICE = "oriole";
    public static String FINGERPRINT = "google/oriole/oriole:14/AP2A.240805.005/12025142:user/release-keys";
    public static String HARDWARE = "oriole";
    public static String MODEL = "Pixel 6";
    public static String MANUFACTURER = "Google";
    public static String PRODUCT = "oriole";

    private Build() {}

    public static class VERSION {
        public static int SDK_INT = 34;
        public static String RELEASE = "14";

        private VERSION() {}
    }

    public static class VERSION_CODES {
        public static final int R = 30;
        public static final int S = 31;
        public static final int TIRAMISU = 33;
        public static final int UPSIDE_DOWN_CAKE = 34;

        private VERSION_CODES() {}
    }
}
