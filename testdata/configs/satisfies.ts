import type { CapacitorConfig } from '@capacitor/cli'

const config = {
  appId: 'com.cling.serial',
  appName: 'serial',
  webDir: 'out',
  plugins: {},
} satisfies CapacitorConfig

export default config
