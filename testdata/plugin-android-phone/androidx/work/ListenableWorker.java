package androidx.work;

import android.content.Context;
import com.google.common.util.concurrent.ListenableFuture;
import java.util.Set;
import java.util.UUID;

// Test stand-in for androidx.work.ListenableWorker: a unit of background
// work, built by WorkManager with (Context, WorkerParameters), that reports
// progress and ends with a Result.
public abstract class ListenableWorker {
    private final Context appContext;
    private final WorkerParameters params;

    public ListenableWorker(Context appContext, WorkerParameters params) {
        this.appContext = appContext;
        this.params = params;
    }

    public final Context getApplicationContext() {
        return appContext;
    }

    public final UUID getId() {
        return params.getId();
    }

    public final Data getInputData() {
        return params.getInputData();
    }

    public final Set<String> getTags() {
        return params.getTags();
    }

    public final int getRunAttemptCount() {
        return params.getRunAttemptCount();
    }

    /** True once the work was cancelled (its worker should stop). */
    public final boolean isStopped() {
        return params.work.stopped;
    }

    public final ListenableFuture<Void> setProgressAsync(Data progress) {
        params.work.manager.progress(params.work, progress);
        return new DoneFuture<>(null);
    }

    public abstract static class Result {
        private final Data output;

        Result(Data output) {
            this.output = output;
        }

        public Data getOutputData() {
            return output;
        }

        public static Result success() {
            return new Success(Data.EMPTY);
        }

        public static Result success(Data output) {
            return new Success(output);
        }

        public static Result failure() {
            return new Failure(Data.EMPTY);
        }

        public static Result failure(Data output) {
            return new Failure(output);
        }

        public static Result retry() {
            return new Retry();
        }

        public static final class Success extends Result {
            Success(Data output) {
                super(output);
            }
        }

        public static final class Failure extends Result {
            Failure(Data output) {
                super(output);
            }
        }

        public static final class Retry extends Result {
            Retry() {
                super(Data.EMPTY);
            }
        }
    }
}
