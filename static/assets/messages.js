// Sentences a person understands for what the API (or the network) answered: by the API's error
// code and, for validation errors ("size: must be 1 to 26214400 bytes"), by the field. The API's own
// message is kept on the error as `detail` for developers; people never see it.

const BY_CODE = {
  unauthorized: 'Your session has ended. Please sign in again.',
  not_found: 'This note no longer exists. It may have been deleted, perhaps in another tab.',
  precondition_failed: 'This note was changed elsewhere since you opened it.',
  precondition_required: 'The note could not be saved. Reload it and try again.',
  payload_too_large: 'That is too much to save at once. Shorten the text and try again.',
  unsupported_media_type: 'The app sent something the server did not understand. Reload the page and try again.',
  limit_reached: 'This note already has the most attachments it can hold (50). Delete one first.',
  not_uploaded: 'The file did not finish uploading. Try uploading it again.',
  unavailable: 'The service is having trouble right now. Nothing was lost; try again in a few seconds.',
  network: 'Could not reach the server. Check your connection and try again.',
  upload_failed: 'The file could not be uploaded. Try again.',
  aborted: 'The upload was cancelled.',
  method_not_allowed: 'That is not possible here. Reload the page and try again.',
  bad_request: 'The app sent a request the server did not accept. Reload the page and try again.',
  bad_response: 'The server gave an answer the app did not expect. Try again.',
};

const BY_FIELD = {
  title: 'Give the note a title of up to 200 characters, with at least one letter, digit or sign.',
  body: 'The text is too long: a note holds up to 64 KiB.',
  tags: 'Tags can have up to 32 characters each (no spaces at either end), at most 20, all different.',
  filename: 'That file name cannot be used. Rename the file and try again.',
  content_type: 'That kind of file cannot be attached.',
  size: 'That file cannot be attached: files must be between 1 byte and 25 MB.',
};

const BY_STATUS = {
  401: BY_CODE.unauthorized,
  403: 'You are not allowed to do that.',
  404: BY_CODE.not_found,
  409: 'That conflicts with a change made elsewhere. Reload and try again.',
  412: BY_CODE.precondition_failed,
  413: BY_CODE.payload_too_large,
  429: 'Too many requests; wait a moment and try again.',
  503: BY_CODE.unavailable,
};

/** The sentence to show for an API answer: `{status, code, message}` of the API's error JSON. */
export function describe(status, code, message = '') {
  if (code === 'invalid') {
    const field = String(message).split(':')[0].trim();
    if (BY_FIELD[field]) return BY_FIELD[field];
  }
  return BY_CODE[code] || BY_STATUS[status] || (status >= 500
    ? 'Something went wrong on the server. Try again in a moment.'
    : 'That did not work. Reload the page and try again.');
}
