package androidx.lifecycle;

// Test stand-in: as declared by AndroidX.
public interface Observer<T> {
    void onChanged(T value);
}
