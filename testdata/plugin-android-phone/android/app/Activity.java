package android.app;

import android.content.Context;
import android.os.Looper;

// Test stand-in for android.app.Activity: a Context over the application's
// folders that runs runOnUiThread work on the main looper (at once when
// already on the main thread, as on Android).
public class Activity extends Context {

    public Activity(Context application) {
        super(application);
    }

    public final void runOnUiThread(Runnable action) {
        Looper main = Looper.getMainLooper();
        if (main.isCurrentThread()) {
            action.run();
        } else {
            main.post(action);
        }
    }
}
