package android.util;

// Test stand-in for android.util.Log: logcat lines go to standard error.
public final class Log {
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
