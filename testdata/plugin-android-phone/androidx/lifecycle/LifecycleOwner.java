package androidx.lifecycle;

// Test stand-in: the phone's activity is always started, so LiveData needs
// no lifecycle from its owner (Android's ComponentActivity implements this).
public interface LifecycleOwner {}
