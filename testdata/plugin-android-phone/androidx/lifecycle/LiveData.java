package androidx.lifecycle;

import android.os.Looper;
import java.util.ArrayList;
import java.util.List;

// Test stand-in for LiveData with the delivery rules the plugin's observer
// meets on Android: observers run on the main thread; a new observer gets
// the current value (if any) first; each observer sees each value at most
// once (a version per value, as in AndroidX); postValue from another
// thread delivers only the latest of the values posted before the main
// thread gets to them. The owner is always active (see LifecycleOwner).
public class LiveData<T> {
    private static final Object NOT_SET = new Object();

    private final List<Wrapper> observers = new ArrayList<>();
    private Object value = NOT_SET;
    private Object pending = NOT_SET;
    private int version = -1;

    private final class Wrapper {
        final Observer<? super T> observer;
        int lastVersion = -1;

        Wrapper(Observer<? super T> observer) {
            this.observer = observer;
        }
    }

    public void observe(LifecycleOwner owner, Observer<? super T> observer) {
        final Wrapper w = new Wrapper(observer);
        synchronized (this) {
            observers.add(w);
        }
        Looper.getMainLooper().post(() -> considerNotify(w));
    }

    public synchronized void removeObserver(Observer<? super T> observer) {
        observers.removeIf((w) -> w.observer == observer);
    }

    public synchronized T getValue() {
        return value == NOT_SET ? null : cast(value);
    }

    protected void postValue(T v) {
        boolean post;
        synchronized (this) {
            post = pending == NOT_SET;
            pending = v;
        }
        if (post) {
            Looper.getMainLooper().post(() -> {
                List<Wrapper> targets;
                synchronized (this) {
                    value = pending;
                    pending = NOT_SET;
                    version++;
                    targets = new ArrayList<>(observers);
                }
                for (Wrapper w : targets) {
                    considerNotify(w);
                }
            });
        }
    }

    // Runs on the main thread only.
    private void considerNotify(Wrapper w) {
        Object v;
        synchronized (this) {
            if (value == NOT_SET || w.lastVersion >= version || !observers.contains(w)) {
                return;
            }
            w.lastVersion = version;
            v = value;
        }
        w.observer.onChanged(cast(v));
    }

    @SuppressWarnings("unchecked")
    private T cast(Object v) {
        return (T) v;
    }
}
