import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { desktopOs } from './lib/platform';

// User Timing mark for the start-up benchmark (tests/bench-app): the bundle is evaluated.
performance.mark('app:script');

// Before the first layout: app.css chooses the font families by it.
document.documentElement.dataset.os = desktopOs(navigator.platform, navigator.userAgent);

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target });
