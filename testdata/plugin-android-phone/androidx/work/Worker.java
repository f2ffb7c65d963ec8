package androidx.work;

import android.content.Context;

// Test stand-in: a ListenableWorker whose work is the synchronous doWork().
public abstract class Worker extends ListenableWorker {
    public Worker(Context context, WorkerParameters params) {
        super(context, params);
    }

    public abstract Result doWork();
}
