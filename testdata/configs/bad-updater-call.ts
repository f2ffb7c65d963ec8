import type { CapacitorConfig } from '@capacitor/cli';

const config: CapacitorConfig = {
  appId: 'com.example.call',
  webDir: 'dist',
  plugins: {
    CapacitorUpdater: updaterSettings('prod'),
  },
};

export default config;
