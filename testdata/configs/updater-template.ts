import type { CapacitorConfig } from '@capacitor/cli';

const config: CapacitorConfig = {
  appId: 'com.acme.shop',
  appName: 'Acme Shop',
  webDir: 'build',
  plugins: {
    CapacitorUpdater: {
      autoUpdate: true,
      // replaced by `capship key create`
      publicKey: `-----BEGIN RSA PUBLIC KEY-----
OLDKEYOLDKEY
-----END RSA PUBLIC KEY-----
`,
      updateUrl: 'https://old.example.com/updates',
    },
  },
};

export default config;
