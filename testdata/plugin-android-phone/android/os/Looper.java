package android.os;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

// Test stand-in for the main looper: one "main" thread that runs what is
// posted to it in order, as Activity.runOnUiThread and LiveData use it on
// Android. An exception escaping a task is what crashes an Android app; it
// is kept here so that the Phone reports it (crash()).
public final class Looper {
    private static final Looper MAIN = new Looper();

    private final AtomicLong posted = new AtomicLong();
    private final AtomicLong finished = new AtomicLong();
    private volatile Throwable crash;
    private volatile Thread thread;
    private final ThreadPoolExecutor executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), (r) -> {
        Thread t = new Thread(r, "main");
        t.setDaemon(true);
        thread = t;
        return t;
    });

    private Looper() {}

    public static Looper getMainLooper() {
        return MAIN;
    }

    public boolean isCurrentThread() {
        return Thread.currentThread() == thread;
    }

    // Test-only API below (Android posts through a Handler).

    public void post(Runnable r) {
        posted.incrementAndGet();
        executor.execute(() -> {
            try {
                r.run();
            } catch (Throwable t) {
                if (crash == null) {
                    crash = t;
                }
                t.printStackTrace();
            } finally {
                finished.incrementAndGet();
            }
        });
    }

    /** How many tasks were ever posted. */
    public long posted() {
        return posted.get();
    }

    /** Whether every posted task has run. */
    public boolean idle() {
        return posted.get() == finished.get();
    }

    /** The first exception that escaped a task on the main thread, or null. */
    public Throwable crash() {
        return crash;
    }
}
