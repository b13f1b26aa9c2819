/**
 * The quick exit: the button and Escape leave at once for a neutral site,
 * replacing this page in the history, so Back does not return to it. What the
 * page holds (hashes, thumbnails, a case's PIN) is dropped first.
 */
export function installQuickExit(button: HTMLElement, dropAll: () => void, exitUrl: () => string): void {
  const leave = () => {
    try {
      dropAll();
    } finally {
      document.body.replaceChildren();
      location.replace(exitUrl());
    }
  };
  button.addEventListener('click', leave);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') leave();
  });
}
