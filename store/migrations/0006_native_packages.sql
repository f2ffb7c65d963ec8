-- A release's native packages (npm name -> installed version) as the
-- manifest of its bundle recorded them, as a JSON object: NULL when not
-- recorded (a bundle built by an older capship), so that such releases
-- register and compare as before. Register refuses a release whose native
-- packages differ from those of the release the channel serves.
ALTER TABLE releases ADD COLUMN native_packages TEXT;
