package android.content.pm;

// Test stand-in: the plugin reads FLAG_DEBUGGABLE from flags (is_prod).
public class ApplicationInfo {
    public static final int FLAG_DEBUGGABLE = 1 << 1;

    public int flags;
}
