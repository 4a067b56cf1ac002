// A file only its owner may read: created at mode 0600 from its first byte (a library that creates it later, such
// as SQLite, would use the umask), and tightened to 0600 when an older run left it readable by others. For the
// databases of voxa-control and its plugins; key files are created once with O_EXCL instead (crypto/identity.cpp).
#pragma once

#include <filesystem>
#include <string>

namespace voxa {

// True when `path` exists (created empty if it did not) with mode 0600. On failure *error says what failed and
// why ("cannot open: ..." or "cannot set mode 0600: ..."); the caller prefixes what the file is.
bool ensure_private_file(const std::filesystem::path& path, std::string* error);

}  // namespace voxa
