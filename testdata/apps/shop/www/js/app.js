import { CapacitorUpdater } from '@capgo/capacitor-updater';
CapacitorUpdater.notifyAppReady();
document.querySelector('h1').textContent = 'Shop is ready';
