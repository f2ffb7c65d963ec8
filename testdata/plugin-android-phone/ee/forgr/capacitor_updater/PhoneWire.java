package ee.forgr.capacitor_updater;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import okio.Buffer;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

// Ours: an OkHttp interceptor added to the plugin's shared client
// (DownloadService.sharedClient, which every JSON request of the plugin
// goes through) that notes what the phone sent: the update check's body,
// and every stats event with the HTTP status the server answered. It only
// observes: requests and responses pass through unchanged.
final class PhoneWire implements Interceptor {
    private final HttpUrl updateUrl;
    private final HttpUrl statsUrl;
    private final AtomicLong requests = new AtomicLong();
    private final List<String[]> records = new ArrayList<>();

    PhoneWire(String updateUrl, String statsUrl) {
        this.updateUrl = HttpUrl.parse(updateUrl);
        this.statsUrl = statsUrl.isEmpty() ? null : HttpUrl.parse(statsUrl);
    }

    /** How many requests were ever started. */
    long requests() {
        return requests.get();
    }

    /** The records, in the order the answers came: {"request", JSON} or {"stat", action, version_name, old_version_name, status}. */
    List<String[]> records() {
        synchronized (records) {
            return new ArrayList<>(records);
        }
    }

    @Override
    public Response intercept(Chain chain) throws IOException {
        requests.incrementAndGet();
        Request req = chain.request();
        String body = "";
        if (req.body() != null) {
            Buffer buf = new Buffer();
            req.body().writeTo(buf);
            body = buf.readUtf8();
        }
        int status = -1; // no answer (network error)
        try {
            Response res = chain.proceed(req);
            status = res.code();
            return res;
        } finally {
            record(req, body, status);
        }
    }

    private void record(Request req, String body, int status) {
        List<String[]> out = new ArrayList<>();
        if (req.url().equals(updateUrl) && "POST".equals(req.method())) {
            out.add(new String[] { "request", body, String.valueOf(status) });
        } else if (req.url().equals(statsUrl) && "POST".equals(req.method())) {
            try {
                // CapgoUpdater batches events in an array; DownloadService sends one object.
                JSONArray events = body.trim().startsWith("[") ? new JSONArray(body) : new JSONArray().put(new JSONObject(body));
                for (int i = 0; i < events.length(); i++) {
                    JSONObject e = events.getJSONObject(i);
                    out.add(new String[] {
                        "stat",
                        e.optString("action"),
                        e.optString("version_name"),
                        e.optString("old_version_name"),
                        String.valueOf(status),
                    });
                }
            } catch (JSONException e) {
                out.add(new String[] { "stat", "?unparsable", body, "", String.valueOf(status) });
            }
        } else {
            out.add(new String[] { "http", req.method(), req.url().toString(), String.valueOf(status) });
        }
        synchronized (records) {
            records.addAll(out);
        }
    }
}
