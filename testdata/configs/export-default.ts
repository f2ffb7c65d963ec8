import { CapacitorConfig } from '@capacitor/cli';

export default {
  appId: 'com.example.direct',
  appName: "It's direct",
  webDir: 'out',
  plugins: {
    CapacitorUpdater: {}
  }
} as CapacitorConfig;
