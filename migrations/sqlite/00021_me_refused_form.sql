-- A refused /me sign-in form (a mobile that is not one, a send limit,
-- an SMS not sent) is answered by a redirect to a page that shows the
-- refusal (post/redirect/get): a row in state 'refused' keeps what was
-- typed, and limited_until keeps when the send limit that refused it
-- ends, so the page says so with the right Retry-After and a reload sends
-- nothing. NULL: no limit refused it.

-- +goose Up
ALTER TABLE me_sessions ADD COLUMN limited_until DATETIME;

-- +goose Down
ALTER TABLE me_sessions DROP COLUMN limited_until;
