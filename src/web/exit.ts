/** Where the quick exit goes until the operator's choice (quickExitUrl in HELP_RESOURCES_FILE) has loaded: a page anyone might have open. */
export const DEFAULT_EXIT_URL = 'https://www.google.com/search?q=weather';
