package com.getcapacitor;

// Test stand-in for the Capacitor bridge. The plugin's Logger forwards log
// lines to the web view only when a bridge is set; the harness sets none.
public class Bridge {
    public Object getWebView() { return null; }

    public void eval(String js, Object callback) {}
}
