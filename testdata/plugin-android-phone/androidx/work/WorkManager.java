package androidx.work;

import android.content.Context;
import androidx.lifecycle.LiveData;
import com.google.common.util.concurrent.ListenableFuture;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

// Test stand-in for WorkManager, keeping what the plugin's download path
// relies on:
//   - enqueue runs the worker at once, synchronously in the enqueuing
//     thread (a phone online with its constraints met): ENQUEUED, RUNNING
//     (with setProgressAsync updates), then SUCCEEDED or FAILED with the
//     worker's output. An exception escaping doWork() is a failure, as in
//     WorkManager. A Result.retry() leaves the work ENQUEUED with one more
//     run attempt: WorkManager would run it again after its backoff (10 s
//     or more), after this process has ended; work is not persisted;
//   - unique work: KEEP leaves an unfinished work of the same name alone,
//     REPLACE cancels it; cancelling sets CANCELLED and isStopped();
//   - tags: every request is tagged with its worker's class name too;
//     queries by tag return finished work as well;
//   - getWorkInfosByTagLiveData posts the list of the tag's WorkInfos at
//     once (possibly empty) and again whenever it changes (never twice the
//     same list), through LiveData.postValue as Room does.
// Periodic work is recorded, never run. WorkManager is one per process;
// the app's startup initializes it, so a later initialize() throws.
public class WorkManager {
    private static WorkManager instance;

    private final Context appContext;
    private final List<Work> works = new ArrayList<>();
    private final List<TagLiveData> liveData = new ArrayList<>();

    private WorkManager(Context appContext) {
        this.appContext = appContext;
    }

    public static synchronized void initialize(Context context, Configuration configuration) {
        if (instance != null) {
            throw new IllegalStateException(
                "WorkManager is already initialized. Did you try to initialize it manually without disabling WorkManagerInitializer?"
            );
        }
        instance = new WorkManager(context.getApplicationContext());
    }

    public static synchronized WorkManager getInstance(Context context) {
        if (instance == null) {
            instance = new WorkManager(context.getApplicationContext());
        }
        return instance;
    }

    // One enqueued request (package-private: workers read their state).
    static final class Work {
        final WorkManager manager;
        final UUID id;
        final WorkRequest request;
        final String uniqueName;
        WorkInfo.State state = WorkInfo.State.ENQUEUED;
        Data output = Data.EMPTY;
        Data progress = Data.EMPTY;
        int runAttemptCount;
        volatile boolean stopped;

        Work(WorkManager manager, WorkRequest request, String uniqueName) {
            this.manager = manager;
            this.id = request.getId();
            this.request = request;
            this.uniqueName = uniqueName;
        }

        WorkInfo info() {
            return new WorkInfo(id, state, request.getTags(), output, progress, runAttemptCount);
        }
    }

    private final class TagLiveData extends LiveData<List<WorkInfo>> {
        final String tag;
        List<WorkInfo> last;

        TagLiveData(String tag) {
            this.tag = tag;
        }

        // Called with the manager's lock held.
        void refresh() {
            List<WorkInfo> now = infos(tag);
            if (!now.equals(last)) {
                last = now;
                postValue(now);
            }
        }
    }

    public WorkContinuation beginUniqueWork(String uniqueWorkName, ExistingWorkPolicy policy, OneTimeWorkRequest work) {
        return new WorkContinuation(this, uniqueWorkName, policy, work);
    }

    public Operation enqueueUniqueWork(String uniqueWorkName, ExistingWorkPolicy policy, OneTimeWorkRequest work) {
        return enqueueUnique(uniqueWorkName, policy, work);
    }

    public Operation enqueueUniquePeriodicWork(String uniqueWorkName, ExistingPeriodicWorkPolicy policy, PeriodicWorkRequest work) {
        synchronized (this) {
            for (Work w : works) {
                if (uniqueWorkName.equals(w.uniqueName) && !w.state.isFinished()) {
                    if (policy == ExistingPeriodicWorkPolicy.KEEP) {
                        return Operation.DONE;
                    }
                    cancel(w);
                }
            }
            add(new Work(this, work, uniqueWorkName));
        }
        return Operation.DONE;
    }

    Operation enqueueUnique(String uniqueName, ExistingWorkPolicy policy, OneTimeWorkRequest request) {
        final Work work;
        synchronized (this) {
            for (Work w : works) {
                if (!uniqueName.equals(w.uniqueName) || w.state.isFinished()) {
                    continue;
                }
                switch (policy) {
                    case KEEP:
                        return Operation.DONE;
                    case REPLACE:
                        cancel(w);
                        break;
                    default:
                        throw new UnsupportedOperationException("the phone's WorkManager does not chain work (" + policy + ")");
                }
            }
            work = new Work(this, request, uniqueName);
            add(work);
        }
        run(work);
        return Operation.DONE;
    }

    private void run(Work work) {
        synchronized (this) {
            if (work.state != WorkInfo.State.ENQUEUED) {
                return;
            }
            work.state = WorkInfo.State.RUNNING;
            changed(work);
        }
        ListenableWorker.Result result;
        try {
            ListenableWorker worker = work.request.workerClass
                .getConstructor(Context.class, WorkerParameters.class)
                .newInstance(appContext, new WorkerParameters(work));
            if (!(worker instanceof Worker)) {
                throw new UnsupportedOperationException("the phone's WorkManager runs Worker subclasses only");
            }
            result = Objects.requireNonNull(((Worker) worker).doWork(), "doWork returned null");
        } catch (Throwable t) {
            System.err.println("WorkManager: worker " + work.request.workerClass.getName() + " threw " + t);
            result = ListenableWorker.Result.failure();
        }
        synchronized (this) {
            if (work.state != WorkInfo.State.RUNNING) {
                return; // cancelled while running: the result is dropped
            }
            work.progress = Data.EMPTY;
            if (result instanceof ListenableWorker.Result.Success) {
                work.state = WorkInfo.State.SUCCEEDED;
                work.output = result.getOutputData();
            } else if (result instanceof ListenableWorker.Result.Failure) {
                work.state = WorkInfo.State.FAILED;
                work.output = result.getOutputData();
            } else {
                work.state = WorkInfo.State.ENQUEUED;
                work.runAttemptCount++;
            }
            changed(work);
        }
    }

    synchronized void progress(Work work, Data progress) {
        if (work.state == WorkInfo.State.RUNNING && !progress.equals(work.progress)) {
            work.progress = progress;
            changed(work);
        }
    }

    public synchronized Operation cancelUniqueWork(String uniqueWorkName) {
        for (Work w : works) {
            if (uniqueWorkName.equals(w.uniqueName)) {
                cancel(w);
            }
        }
        return Operation.DONE;
    }

    public synchronized Operation cancelAllWorkByTag(String tag) {
        for (Work w : works) {
            if (w.request.getTags().contains(tag)) {
                cancel(w);
            }
        }
        return Operation.DONE;
    }

    public synchronized ListenableFuture<List<WorkInfo>> getWorkInfosByTag(String tag) {
        return new DoneFuture<>(infos(tag));
    }

    public synchronized LiveData<List<WorkInfo>> getWorkInfosByTagLiveData(String tag) {
        TagLiveData d = new TagLiveData(tag);
        liveData.add(d);
        d.refresh();
        return d;
    }

    /** Test-only: every work request of this process, in enqueue order. */
    public synchronized List<WorkInfo> allWorkInfos() {
        List<WorkInfo> out = new ArrayList<>();
        for (Work w : works) {
            out.add(w.info());
        }
        return out;
    }

    private void add(Work w) {
        works.add(w);
        changed(w);
    }

    private void cancel(Work w) {
        if (w.state.isFinished()) {
            return;
        }
        w.state = WorkInfo.State.CANCELLED;
        w.stopped = true;
        w.progress = Data.EMPTY;
        changed(w);
    }

    private void changed(Work w) {
        for (TagLiveData d : liveData) {
            if (w.request.getTags().contains(d.tag)) {
                d.refresh();
            }
        }
    }

    private List<WorkInfo> infos(String tag) {
        List<WorkInfo> out = new ArrayList<>();
        for (Work w : works) {
            if (w.request.getTags().contains(tag)) {
                out.add(w.info());
            }
        }
        return out;
    }
}
