/** The victim page's entry point (built to /assets/app.js). */
import { chooseLanguage } from './i18n.js';
import { Page } from './page.js';
import { installQuickExit } from './safety.js';
import { byId } from './dom.js';

const page = new Page(chooseLanguage(navigator.languages ?? [navigator.language]));
installQuickExit(byId('quick-exit'), () => page.leave(), () => page.exitUrl);
page.start();
