package ee.forgr.capacitor_updater;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

// Ours: a single-thread executor like Executors.newSingleThreadExecutor()
// (the plugin's CapgoUpdater.io), which also counts its tasks, so that the
// phone knows when the plugin's background work is done, and keeps the
// first exception a task let escape (an app crash on Android).
final class PhoneExecutor extends ThreadPoolExecutor {
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong finished = new AtomicLong();
    private volatile Throwable crash;

    PhoneExecutor(String name) {
        super(1, 1, 0L, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), (r) -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void execute(Runnable command) {
        submitted.incrementAndGet();
        super.execute(command);
    }

    @Override
    protected void afterExecute(Runnable r, Throwable t) {
        if (t != null && crash == null) {
            crash = t;
        }
        finished.incrementAndGet();
    }

    long submitted() {
        return submitted.get();
    }

    boolean idle() {
        return submitted.get() == finished.get();
    }

    Throwable crash() {
        return crash;
    }
}
