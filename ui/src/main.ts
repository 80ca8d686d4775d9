import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

// User Timing mark for the start-up benchmark (tests/bench-app): the bundle is evaluated.
performance.mark('app:script');

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target });
