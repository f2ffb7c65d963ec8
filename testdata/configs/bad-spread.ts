import type { CapacitorConfig } from '@capacitor/cli';
import base from './capacitor.base';

const config: CapacitorConfig = {
  ...base,
  appId: 'com.example.spread',
  webDir: 'dist',
};

export default config;
