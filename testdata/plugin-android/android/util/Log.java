package android.util;

// Test stand-in for android.util.Log: logcat lines go to standard error.
// The levels are Android's (the phone harness's WorkManager reads INFO).
public final class Log {
    public static final int VERBOSE = 2;
    public static final int DEBUG = 3;
    public static final int INFO = 4;
    public static final int WARN = 5;
    public static final int ERROR = 6;
    public static final int ASSERT = 7;

    private Log() {}

    private static int println(String level, String tag, String msg) {
        System.err.println(level + "/" + tag + ": " + msg);
        return 0;
    }

    public static int e(String tag, String msg) { return println("E", tag, msg); }
    public static int w(String tag, String msg) { return println("W", tag, msg); }
    public static int i(String tag, String msg) { return println("I", tag, msg); }
    public static int d(String tag, String msg) { return println("D", tag, msg); }
    public static int v(String tag, String msg) { return println("V", tag, msg); }
}
