#include "npz.h"

#include "../error.h"
#include "atomic_file.h"
#include "mapped_file.h"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

namespace lethe::io {

namespace {

// ZIP structures (APPNOTE.TXT 4.3): signatures and fixed sizes.
constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kLocalSize = 30;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint32_t kMax32 = 0xFFFFFFFF;
constexpr std::uint16_t kMax16 = 0xFFFF;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflated = 8;
// Deflate cannot expand by more than about 1032:1; a larger claim is refused before anything is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::uint16_t u16(const std::uint8_t* p)
{
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t u32(const std::uint8_t* p)
{
    return static_cast<std::uint32_t>(u16(p)) | (std::uint32_t { u16(p + 2) } << 16);
}
std::uint64_t u64(const std::uint8_t* p)
{
    return static_cast<std::uint64_t>(u32(p)) | (std::uint64_t { u32(p + 4) } << 32);
}

std::string hex32(std::uint32_t value)
{
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", value);
    return text;
}

std::string memberWhere(const std::string& name)
{
    return "member '" + name + "'";
}

/// One entry of the central directory, with ZIP64 values already applied.
struct Member {
    std::string name;
    std::uint16_t flags = 0;
    std::uint16_t method = 0;
    std::uint32_t crc = 0;
    std::uint64_t compressedSize = 0;
    std::uint64_t size = 0;
    std::uint64_t localOffset = 0;
};

/// Where the central directory lies and how many entries it has, from the (ZIP64) end record.
struct Directory {
    std::uint64_t entries = 0;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    /// The byte where the end records begin: the central directory must end at or before it.
    std::uint64_t limit = 0;
};

Directory findDirectory(const MappedFile& mapped, const std::string& file)
{
    const std::uint8_t* data = mapped.data();
    const std::uint64_t fileSize = mapped.size();
    // The end record is the last thing in the file, followed only by a comment of at most 65535 bytes.
    std::optional<std::uint64_t> end;
    if (fileSize >= kEndSize) {
        const std::uint64_t lowest = fileSize - kEndSize > kMax16 ? fileSize - kEndSize - kMax16 : 0;
        for (std::uint64_t at = fileSize - kEndSize + 1; at-- > lowest;)
            if (u32(data + at) == kEndSignature && at + kEndSize + u16(data + at + 20) <= fileSize) {
                end = at;
                break;
            }
    }
    if (!end) {
        if (fileSize >= 4 && u32(data) == kLocalSignature)
            throw FormatError(file, "",
                "truncated ZIP archive: it begins with a member but has no end-of-central-directory record (the "
                "file ends after "
                    + std::to_string(fileSize) + " bytes)");
        throw FormatError(file, "", "not a ZIP archive (no end-of-central-directory record)");
    }
    const std::uint8_t* record = data + *end;
    if (u16(record + 4) != 0 || u16(record + 6) != 0)
        throw FormatError(
            file, "end-of-central-directory record", "the archive spans several disks (split archives are not read)");
    Directory directory;
    directory.entries = u16(record + 10);
    directory.size = u32(record + 12);
    directory.offset = u32(record + 16);
    directory.limit = *end;

    // A ZIP64 locator right before the end record points to the ZIP64 end record, whose values replace the
    // 16- and 32-bit ones (which then read 0xFFFF or 0xFFFFFFFF).
    if (*end >= kZip64LocatorSize && u32(data + *end - kZip64LocatorSize) == kZip64LocatorSignature) {
        const std::uint8_t* locator = data + *end - kZip64LocatorSize;
        const std::uint64_t at = u64(locator + 8);
        if (at > *end - kZip64LocatorSize || *end - kZip64LocatorSize - at < kZip64EndSize
            || u32(data + at) != kZip64EndSignature)
            throw FormatError(file, "ZIP64 end-of-central-directory locator",
                "points to byte " + std::to_string(at) + ", where no ZIP64 end-of-central-directory record is");
        const std::uint8_t* zip64 = data + at;
        if (u32(zip64 + 16) != 0 || u32(zip64 + 20) != 0)
            throw FormatError(file, "ZIP64 end-of-central-directory record",
                "the archive spans several disks (split archives are not read)");
        directory.entries = u64(zip64 + 32);
        directory.size = u64(zip64 + 40);
        directory.offset = u64(zip64 + 48);
        directory.limit = at;
    } else if (directory.entries == kMax16 || directory.size == kMax32 || directory.offset == kMax32) {
        throw FormatError(file, "end-of-central-directory record",
            "its values say ZIP64, but no ZIP64 end-of-central-directory locator precedes it");
    }
    if (directory.offset > directory.limit || directory.size > directory.limit - directory.offset)
        throw FormatError(file, "central directory",
            "offset " + std::to_string(directory.offset) + " and size " + std::to_string(directory.size)
                + " run past the end-of-central-directory record at byte " + std::to_string(directory.limit));
    return directory;
}

/// Applies a ZIP64 extended-information extra field: it holds, in this order, the values whose 32-bit field
/// reads 0xFFFFFFFF.
void applyZip64Extra(const std::uint8_t* extra, std::size_t length, std::uint32_t size32, std::uint32_t compressed32,
    std::uint32_t offset32, Member& member, const std::string& file)
{
    for (std::size_t at = 0; at + 4 <= length;) {
        const std::uint16_t id = u16(extra + at);
        const std::uint16_t blockSize = u16(extra + at + 2);
        if (at + 4 + blockSize > length)
            throw FormatError(file, memberWhere(member.name),
                "extra field " + std::to_string(id) + " runs past the extra data of the central directory entry");
        if (id == kZip64ExtraId) {
            const std::uint8_t* block = extra + at + 4;
            std::size_t used = 0;
            const auto next = [&](const char* what) {
                if (used + 8 > blockSize)
                    throw FormatError(file, memberWhere(member.name),
                        std::string("the ZIP64 extra field lacks the ") + what
                            + " that the central directory defers to it");
                const std::uint64_t value = u64(block + used);
                used += 8;
                return value;
            };
            if (size32 == kMax32)
                member.size = next("size");
            if (compressed32 == kMax32)
                member.compressedSize = next("compressed size");
            if (offset32 == kMax32)
                member.localOffset = next("local header offset");
            return;
        }
        at += 4 + blockSize;
    }
    if (size32 == kMax32 || compressed32 == kMax32 || offset32 == kMax32)
        throw FormatError(file, memberWhere(member.name),
            "the central directory entry defers sizes to a ZIP64 extra field it does not have");
}

std::vector<Member> readDirectory(const MappedFile& mapped, const Directory& directory, const std::string& file)
{
    const std::uint8_t* data = mapped.data();
    std::vector<Member> members;
    std::uint64_t at = directory.offset;
    const std::uint64_t end = directory.offset + directory.size;
    for (std::uint64_t i = 0; i < directory.entries; ++i) {
        const std::string where = "central directory entry " + std::to_string(i);
        if (end - at < kCentralSize || u32(data + at) != kCentralSignature)
            throw FormatError(file, where,
                "expected a central directory header at byte " + std::to_string(at) + ", found "
                    + (end - at < kCentralSize ? "the end of the directory" : "other bytes"));
        const std::uint8_t* entry = data + at;
        const std::size_t nameLength = u16(entry + 28);
        const std::size_t extraLength = u16(entry + 30);
        const std::size_t commentLength = u16(entry + 32);
        if (end - at - kCentralSize < nameLength + extraLength + commentLength)
            throw FormatError(file, where, "its name and extra fields run past the end of the central directory");
        Member member;
        member.name.assign(reinterpret_cast<const char*>(entry + kCentralSize), nameLength);
        member.flags = u16(entry + 8);
        member.method = u16(entry + 10);
        member.crc = u32(entry + 16);
        member.compressedSize = u32(entry + 20);
        member.size = u32(entry + 24);
        member.localOffset = u32(entry + 42);
        if (u16(entry + 34) != 0 && u16(entry + 34) != kMax16)
            throw FormatError(file, memberWhere(member.name), "lies on another disk (split archives are not read)");
        applyZip64Extra(entry + kCentralSize + nameLength, extraLength, u32(entry + 24), u32(entry + 20),
            u32(entry + 42), member, file);
        members.push_back(std::move(member));
        at += kCentralSize + nameLength + extraLength + commentLength;
    }
    return members;
}

/// Inflates raw deflate data (no zlib header: windowBits −15) into exactly `size` bytes.
std::string inflateMember(const std::uint8_t* input, std::uint64_t inputSize, std::uint64_t size,
    const std::string& file, const std::string& where)
{
    if (size > inputSize * kMaxDeflateRatio + 1024)
        throw FormatError(file, where,
            "claims " + std::to_string(size) + " bytes from " + std::to_string(inputSize)
                + " deflated bytes, more than deflate can expand to");
    std::string output(size, '\0');
    z_stream stream {};
    if (inflateInit2(&stream, -15) != Z_OK)
        throw Error(file + ": " + where + ": zlib could not start inflating");
    // zlib counts in 32-bit units: feed and drain in chunks. A spare byte past the declared size shows data that
    // inflates to more than the central directory records.
    constexpr std::uint64_t kChunk = std::uint64_t { 1 } << 30;
    std::uint64_t consumed = 0;
    std::uint64_t produced = 0;
    int status = Z_OK;
    char spare = 0;
    while (true) {
        if (stream.avail_in == 0 && consumed < inputSize) {
            stream.next_in = const_cast<Bytef*>(input + consumed);
            stream.avail_in = static_cast<uInt>(std::min(kChunk, inputSize - consumed));
            consumed += stream.avail_in;
        }
        const bool full = produced == size;
        stream.next_out = full ? reinterpret_cast<Bytef*>(&spare) : reinterpret_cast<Bytef*>(output.data() + produced);
        stream.avail_out = full ? 1 : static_cast<uInt>(std::min(kChunk, size - produced));
        const uInt room = stream.avail_out;
        status = inflate(&stream, Z_NO_FLUSH);
        const std::uint64_t made = room - stream.avail_out;
        if (full && made > 0) {
            inflateEnd(&stream);
            throw FormatError(file, where,
                "deflate data inflates to more than the " + std::to_string(size)
                    + " bytes the central directory records");
        }
        produced += made;
        if (status != Z_OK && status != Z_BUF_ERROR)
            break; // the end of the stream, or an error
        if (made == 0 && stream.avail_in == 0 && consumed == inputSize)
            break; // input used up before the end of the stream
    }
    const std::string message = stream.msg ? stream.msg : "";
    inflateEnd(&stream);
    if (status == Z_DATA_ERROR || status == Z_NEED_DICT)
        throw FormatError(file, where, "deflate data is corrupt (zlib: " + message + ")");
    if (status == Z_MEM_ERROR)
        throw Error(file + ": " + where + ": zlib ran out of memory while inflating");
    if (status != Z_STREAM_END)
        throw FormatError(file, where,
            "deflate data ends early, after inflating " + std::to_string(produced) + " of " + std::to_string(size)
                + " bytes");
    if (produced != size)
        throw FormatError(file, where,
            "deflate data inflates to " + std::to_string(produced) + " bytes, but the central directory records "
                + std::to_string(size));
    return output;
}

std::uint32_t crcOf(const std::uint8_t* data, std::uint64_t size)
{
    return size == 0 ? 0 : static_cast<std::uint32_t>(crc32_z(0, data, static_cast<z_size_t>(size)));
}

// ---- The .npy header: a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }

/// A Python literal of the kinds a .npy header holds.
struct PyValue {
    enum class Kind { String, Integer, Bool, None, Tuple, List, Dict };
    Kind kind = Kind::None;
    std::string text;
    std::int64_t integer = 0;
    bool flag = false;
    std::vector<PyValue> items;
    std::vector<std::pair<std::string, PyValue>> entries;
};

class PyLiteralParser {
public:
    explicit PyLiteralParser(const std::string& text)
        : m_text(text)
    {
    }

    /// The literal, or nullopt when the text is not one (or has something after it).
    std::optional<PyValue> parse()
    {
        std::optional<PyValue> value = parseValue(0);
        skipSpace();
        if (!value || m_at != m_text.size())
            return std::nullopt;
        return value;
    }

private:
    void skipSpace()
    {
        while (m_at < m_text.size() && (m_text[m_at] == ' ' || m_text[m_at] == '\t' || m_text[m_at] == '\n'))
            ++m_at;
    }

    bool take(char c)
    {
        skipSpace();
        if (m_at < m_text.size() && m_text[m_at] == c) {
            ++m_at;
            return true;
        }
        return false;
    }

    std::optional<PyValue> parseValue(int depth)
    {
        if (depth > 16)
            return std::nullopt;
        skipSpace();
        if (m_at >= m_text.size())
            return std::nullopt;
        const char c = m_text[m_at];
        PyValue value;
        if (c == '\'' || c == '"') {
            value.kind = PyValue::Kind::String;
            ++m_at;
            while (m_at < m_text.size() && m_text[m_at] != c) {
                if (m_text[m_at] == '\\' && m_at + 1 < m_text.size())
                    ++m_at;
                value.text += m_text[m_at++];
            }
            if (m_at >= m_text.size())
                return std::nullopt;
            ++m_at;
            return value;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            value.kind = PyValue::Kind::Integer;
            const std::size_t start = m_at;
            if (c == '-')
                ++m_at;
            std::uint64_t magnitude = 0;
            bool digits = false;
            while (m_at < m_text.size() && m_text[m_at] >= '0' && m_text[m_at] <= '9') {
                magnitude = magnitude * 10 + static_cast<std::uint64_t>(m_text[m_at++] - '0');
                if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                    return std::nullopt;
                digits = true;
            }
            if (!digits)
                return std::nullopt;
            if (m_at < m_text.size() && m_text[m_at] == 'L') // Python 2's long integers
                ++m_at;
            value.integer = static_cast<std::int64_t>(magnitude) * (m_text[start] == '-' ? -1 : 1);
            return value;
        }
        struct Word {
            const char* text;
            PyValue::Kind kind;
            bool flag;
        };
        static constexpr Word kWords[] = { { "True", PyValue::Kind::Bool, true },
            { "False", PyValue::Kind::Bool, false }, { "None", PyValue::Kind::None, false } };
        for (const Word& word : kWords)
            if (m_text.compare(m_at, std::strlen(word.text), word.text) == 0) {
                m_at += std::strlen(word.text);
                value.kind = word.kind;
                value.flag = word.flag;
                return value;
            }
        if (c == '(' || c == '[') {
            ++m_at;
            value.kind = c == '(' ? PyValue::Kind::Tuple : PyValue::Kind::List;
            const char close = c == '(' ? ')' : ']';
            while (!take(close)) {
                std::optional<PyValue> item = parseValue(depth + 1);
                if (!item)
                    return std::nullopt;
                value.items.push_back(std::move(*item));
                if (!take(',')) {
                    if (!take(close))
                        return std::nullopt;
                    break;
                }
            }
            return value;
        }
        if (c == '{') {
            ++m_at;
            value.kind = PyValue::Kind::Dict;
            while (!take('}')) {
                std::optional<PyValue> key = parseValue(depth + 1);
                if (!key || key->kind != PyValue::Kind::String || !take(':'))
                    return std::nullopt;
                std::optional<PyValue> item = parseValue(depth + 1);
                if (!item)
                    return std::nullopt;
                value.entries.emplace_back(key->text, std::move(*item));
                if (!take(',')) {
                    if (!take('}'))
                        return std::nullopt;
                    break;
                }
            }
            return value;
        }
        return std::nullopt;
    }

    const std::string& m_text;
    std::size_t m_at = 0;
};

struct NpyType {
    const char* code; // type character and size, as after the byte-order mark: "f8"
    torch::ScalarType type;
};

constexpr NpyType kNpyTypes[] = {
    { "f8", torch::kFloat64 },
    { "f4", torch::kFloat32 },
    { "f2", torch::kFloat16 },
    { "i8", torch::kInt64 },
    { "i4", torch::kInt32 },
    { "i2", torch::kInt16 },
    { "i1", torch::kInt8 },
    { "u1", torch::kUInt8 },
    { "b1", torch::kBool },
};

const char* const kReadTypes = "float64, float32, float16, int64, int32, int16, int8, uint8 and bool";
const char* const kPickleProblem = "holds Python objects (dtype 'O', a pickle); only numeric arrays are read, because "
                                   "loading a pickle can run code";

bool isObjectDescr(const std::string& descr)
{
    const std::size_t at = !descr.empty() && std::strchr("<>|=", descr[0]) ? 1 : 0;
    return descr.size() > at && descr[at] == 'O';
}

/// True when a structured dtype's description names an object field anywhere.
bool holdsObjects(const PyValue& value)
{
    if (value.kind == PyValue::Kind::String)
        return isObjectDescr(value.text);
    return std::any_of(value.items.begin(), value.items.end(), holdsObjects);
}

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

[[noreturn]] void failHeader(
    const std::string& file, const std::string& where, const std::string& header, const std::string& problem)
{
    const std::string shown = header.size() > 200 ? header.substr(0, 200) + "..." : header;
    throw FormatError(file, where, "the .npy header " + problem + ": " + shown);
}

/// Parses one .npy file held in memory into a tensor.
torch::Tensor parseNpy(const std::uint8_t* data, std::uint64_t size, const std::string& file, const std::string& where)
{
    if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0)
        throw FormatError(file, where, "not a .npy array (it does not begin with the magic string \\x93NUMPY)");
    const int major = data[6];
    const int minor = data[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        throw FormatError(file, where,
            ".npy format version " + std::to_string(major) + "." + std::to_string(minor)
                + " is not read (1.0, 2.0 and 3.0 are)");
    const std::uint64_t lengthSize = major == 1 ? 2 : 4;
    if (size < 8 + lengthSize)
        throw FormatError(file, where, "the .npy header length is cut off");
    const std::uint64_t headerLength = major == 1 ? u16(data + 8) : u32(data + 8);
    const std::uint64_t dataStart = 8 + lengthSize + headerLength;
    if (dataStart > size)
        throw FormatError(file, where,
            "the .npy header of " + std::to_string(headerLength) + " bytes runs past the member's "
                + std::to_string(size) + " bytes");
    const std::string header(reinterpret_cast<const char*>(data + 8 + lengthSize), headerLength);
    const std::optional<PyValue> parsed = PyLiteralParser(header).parse();
    const auto headerFail = [&](const std::string& problem) { failHeader(file, where, header, problem); };
    if (!parsed || parsed->kind != PyValue::Kind::Dict)
        failHeader(file, where, header, "is not a Python dict literal");
    const PyValue* descr = nullptr;
    const PyValue* fortran = nullptr;
    const PyValue* shapeValue = nullptr;
    for (const auto& [key, value] : parsed->entries) {
        if (key == "descr")
            descr = &value;
        else if (key == "fortran_order")
            fortran = &value;
        else if (key == "shape")
            shapeValue = &value;
        else
            headerFail("has the unexpected key '" + key + "'");
    }
    if (!descr || !fortran || !shapeValue || parsed->entries.size() != 3)
        failHeader(file, where, header, "needs the keys 'descr', 'fortran_order' and 'shape' once each");
    // Objects first, before anything else is looked at: the data is a pickle and is never touched.
    if (holdsObjects(*descr))
        throw FormatError(file, where, kPickleProblem);
    if (descr->kind != PyValue::Kind::String)
        throw FormatError(file, where,
            "a structured dtype (a record array) is not read; only plain arrays of " + std::string(kReadTypes)
                + " are");
    const std::string& code = descr->text;
    const bool hasOrder = !code.empty() && std::strchr("<>|=", code[0]);
    const std::string typeCode = hasOrder ? code.substr(1) : code;
    std::optional<torch::ScalarType> type;
    for (const auto& candidate : kNpyTypes)
        if (typeCode == candidate.code)
            type = candidate.type;
    if (!type)
        throw FormatError(file, where, "dtype '" + code + "' is not read (" + kReadTypes + " are)");
    const std::size_t itemSize = c10::elementSize(*type);
    if (hasOrder && code[0] == '>' && itemSize > 1)
        throw FormatError(file, where,
            "big-endian data (dtype '" + code + "'); only little-endian arrays are read (in NumPy: a.astype('<"
                + typeCode + "'))");
    if (fortran->kind != PyValue::Kind::Bool)
        headerFail("has a 'fortran_order' that is not True or False");
    if (shapeValue->kind != PyValue::Kind::Tuple)
        headerFail("has a 'shape' that is not a tuple");
    std::vector<std::int64_t> shape;
    std::uint64_t bytes = itemSize;
    bool overflow = false;
    for (const PyValue& dim : shapeValue->items) {
        if (dim.kind != PyValue::Kind::Integer || dim.integer < 0)
            headerFail("has a 'shape' that is not a tuple of non-negative integers");
        shape.push_back(dim.integer);
        const auto extent = static_cast<std::uint64_t>(dim.integer);
        if (extent != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / extent)
            overflow = true;
        bytes *= extent;
    }
    if (std::find(shape.begin(), shape.end(), 0) != shape.end())
        bytes = 0;
    else if (overflow)
        throw FormatError(file, where, "shape " + shapeText(shape) + " of '" + code + "' needs more than 2^64 bytes");
    const std::uint64_t available = size - dataStart;
    if (available < bytes)
        throw FormatError(
            file, where, "data ends after " + std::to_string(available) + " of " + std::to_string(bytes) + " bytes");
    if (available > bytes)
        throw FormatError(file, where,
            std::to_string(available) + " bytes follow the .npy header, but shape " + shapeText(shape) + " of '" + code
                + "' takes " + std::to_string(bytes));

    // Fortran order is C order of the reversed shape; transposing it back gives the array NumPy shows.
    std::vector<std::int64_t> stored = shape;
    if (fortran->flag)
        std::reverse(stored.begin(), stored.end());
    torch::Tensor tensor = torch::empty(stored, torch::TensorOptions().dtype(*type));
    if (bytes > 0)
        std::memcpy(tensor.data_ptr(), data + dataStart, bytes);
    if (type == torch::kBool) // NumPy's bools are bytes 0 and 1; anything else would be undefined in a torch bool.
        tensor = tensor.view(torch::kUInt8).ne(0);
    if (fortran->flag && tensor.dim() > 1) {
        std::vector<std::int64_t> order(static_cast<std::size_t>(tensor.dim()));
        for (std::size_t i = 0; i < order.size(); ++i)
            order[i] = static_cast<std::int64_t>(order.size() - 1 - i);
        tensor = tensor.permute(order).contiguous();
    }
    return tensor;
}

// ---- Writing

/// NumPy 1.24's header for a C-order array: sorted keys, repr of each value, room for the first axis to grow,
/// padded with spaces so that the data starts at a multiple of 64 bytes.
std::string npyHeader(const std::string& descr, const std::vector<std::int64_t>& shape)
{
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText(shape) + ", }";
    if (!shape.empty())
        dict += std::string(21 - std::min<std::size_t>(21, std::to_string(shape[0]).size()), ' ');
    const std::size_t length = dict.size() + 1;
    const std::size_t padding = 64 - ((10 + length) % 64);
    const std::size_t total = length + padding;
    if (total > 0xFFFF)
        throw Error("npz: the .npy header for shape " + shapeText(shape) + " is too long for format 1.0");
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(total & 0xFF);
    out += static_cast<char>(total >> 8);
    out += dict + std::string(padding, ' ') + '\n';
    return out;
}

void put16(std::string& out, std::uint64_t value)
{
    out += static_cast<char>(value & 0xFF);
    out += static_cast<char>((value >> 8) & 0xFF);
}
void put32(std::string& out, std::uint64_t value)
{
    put16(out, value & 0xFFFF);
    put16(out, (value >> 16) & 0xFFFF);
}
void put64(std::string& out, std::uint64_t value)
{
    put32(out, value & kMax32);
    put32(out, value >> 32);
}

struct Written {
    std::string name;
    std::uint32_t crc = 0;
    std::uint64_t size = 0;
    std::uint64_t offset = 0;
};

// A fixed time stamp (1980-01-01 00:00, the format's earliest) keeps archives of the same arrays identical.
constexpr std::uint16_t kDosTime = 0;
constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;

} // namespace

std::map<std::string, torch::Tensor> readNpz(const std::filesystem::path& path)
{
    const MappedFile mapped(path);
    const std::string file = path.string();
    const Directory directory = findDirectory(mapped, file);
    const std::vector<Member> members = readDirectory(mapped, directory, file);
    const std::uint8_t* data = mapped.data();

    std::map<std::string, torch::Tensor> arrays;
    for (const Member& member : members) {
        const std::string where = memberWhere(member.name);
        if (member.name.size() <= 4 || member.name.compare(member.name.size() - 4, 4, ".npy") != 0)
            throw FormatError(file, where, "not a .npy array (NumPy's archives hold members named NAME.npy)");
        const std::string key = member.name.substr(0, member.name.size() - 4);
        if (arrays.count(key))
            throw FormatError(file, where, "appears twice in the central directory");
        if (member.flags & 0x1)
            throw FormatError(file, where, "is encrypted (encrypted members are not read)");
        if (member.method != kMethodStored && member.method != kMethodDeflated)
            throw FormatError(file, where,
                "compression method " + std::to_string(member.method)
                    + " is not read (stored (0) and deflated (8) are)");

        // The local header repeats the name and may carry a different extra field; the data follows it.
        const std::uint64_t local = member.localOffset;
        if (local > directory.offset || directory.offset - local < kLocalSize || u32(data + local) != kLocalSignature)
            throw FormatError(file, where, "no local file header at byte " + std::to_string(local));
        const std::uint64_t start = local + kLocalSize + u16(data + local + 26) + u16(data + local + 28);
        if (start > directory.offset || directory.offset - start < member.compressedSize)
            throw FormatError(file, where,
                "its " + std::to_string(member.compressedSize) + " bytes of data from byte " + std::to_string(start)
                    + " run past the start of the central directory at byte " + std::to_string(directory.offset));

        std::string inflated;
        const std::uint8_t* bytes = data + start;
        if (member.method == kMethodDeflated) {
            inflated = inflateMember(bytes, member.compressedSize, member.size, file, where);
            bytes = reinterpret_cast<const std::uint8_t*>(inflated.data());
        } else if (member.compressedSize != member.size) {
            throw FormatError(file, where,
                "a stored member of " + std::to_string(member.size) + " bytes occupies "
                    + std::to_string(member.compressedSize));
        }
        const std::uint32_t crc = crcOf(bytes, member.size);
        if (crc != member.crc)
            throw FormatError(file, where,
                "CRC-32 of the data is " + hex32(crc) + ", but the archive records " + hex32(member.crc)
                    + " (the file is corrupt)");
        arrays.emplace(key, parseNpy(bytes, member.size, file, where));
    }
    return arrays;
}

void writeNpz(const std::filesystem::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& arrays)
{
    const std::string file = path.string();
    std::set<std::string> names;
    for (const auto& [name, tensor] : arrays) {
        if (name.empty() || name.size() > 0xFFFF - 4)
            throw Error(file + ": array name '" + name + "' is empty or too long for a ZIP member");
        if (!names.insert(name).second)
            throw Error(file + ": array name '" + name + "' is used twice");
        const auto* found = std::find_if(std::begin(kNpyTypes), std::end(kNpyTypes),
            [&](const NpyType& t) { return t.type == tensor.scalar_type(); });
        if (found == std::end(kNpyTypes))
            throw Error(file + ": array '" + name + "' has type " + std::string(c10::toString(tensor.scalar_type()))
                + ", which is not written (" + kReadTypes + " are)");
    }

    AtomicFileWriter out(path);
    std::uint64_t offset = 0;
    std::vector<Written> written;
    for (const auto& [name, original] : arrays) {
        const torch::Tensor tensor = original.detach().to(torch::kCPU).contiguous();
        const auto* type = std::find_if(std::begin(kNpyTypes), std::end(kNpyTypes),
            [&](const NpyType& t) { return t.type == tensor.scalar_type(); });
        const std::string descr = std::string(tensor.element_size() == 1 ? "|" : "<") + type->code;
        const std::string header = npyHeader(descr, tensor.sizes().vec());
        const auto* payload = static_cast<const std::uint8_t*>(tensor.data_ptr());
        const auto payloadSize
            = static_cast<std::uint64_t>(tensor.numel()) * static_cast<std::uint64_t>(tensor.element_size());

        Written entry;
        entry.name = name + ".npy";
        entry.size = header.size() + payloadSize;
        entry.offset = offset;
        // crc32_z given a null buffer returns the initial value instead of going on, and an empty tensor has none.
        entry.crc = crcOf(reinterpret_cast<const std::uint8_t*>(header.data()), header.size());
        if (payloadSize > 0)
            entry.crc = static_cast<std::uint32_t>(crc32_z(entry.crc, payload, static_cast<z_size_t>(payloadSize)));
        const bool zip64 = entry.size >= kMax32;
        std::string local;
        put32(local, kLocalSignature);
        put16(local, zip64 ? 45 : 20);
        put16(local, 0);
        put16(local, kMethodStored);
        put16(local, kDosTime);
        put16(local, kDosDate);
        put32(local, entry.crc);
        put32(local, zip64 ? kMax32 : entry.size);
        put32(local, zip64 ? kMax32 : entry.size);
        put16(local, entry.name.size());
        put16(local, zip64 ? 20 : 0);
        local += entry.name;
        if (zip64) {
            put16(local, kZip64ExtraId);
            put16(local, 16);
            put64(local, entry.size);
            put64(local, entry.size);
        }
        out.write(local);
        out.write(header);
        if (payloadSize > 0)
            out.write(payload, payloadSize);
        offset += local.size() + entry.size;
        written.push_back(std::move(entry));
    }

    std::string central;
    for (const Written& entry : written) {
        const bool bigSize = entry.size >= kMax32;
        const bool bigOffset = entry.offset >= kMax32;
        const std::size_t extra = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
        put32(central, kCentralSignature);
        put16(central, (3 << 8) | 45); // made by Unix, ZIP 4.5
        put16(central, extra ? 45 : 20);
        put16(central, 0);
        put16(central, kMethodStored);
        put16(central, kDosTime);
        put16(central, kDosDate);
        put32(central, entry.crc);
        put32(central, bigSize ? kMax32 : entry.size);
        put32(central, bigSize ? kMax32 : entry.size);
        put16(central, entry.name.size());
        put16(central, extra ? extra + 4 : 0);
        put16(central, 0); // comment
        put16(central, 0); // disk
        put16(central, 0); // internal attributes
        put32(central, std::uint64_t { 0100644 } << 16); // a regular file, rw-r--r--
        put32(central, bigOffset ? kMax32 : entry.offset);
        central += entry.name;
        if (extra) {
            put16(central, kZip64ExtraId);
            put16(central, extra);
            if (bigSize) {
                put64(central, entry.size);
                put64(central, entry.size);
            }
            if (bigOffset)
                put64(central, entry.offset);
        }
    }
    const std::uint64_t count = written.size();
    const bool zip64End = count >= kMax16 || offset >= kMax32 || central.size() >= kMax32;
    std::string end;
    if (zip64End) {
        const std::uint64_t zip64At = offset + central.size();
        put32(end, kZip64EndSignature);
        put64(end, kZip64EndSize - 12);
        put16(end, (3 << 8) | 45);
        put16(end, 45);
        put32(end, 0);
        put32(end, 0);
        put64(end, count);
        put64(end, count);
        put64(end, central.size());
        put64(end, offset);
        put32(end, kZip64LocatorSignature);
        put32(end, 0);
        put64(end, zip64At);
        put32(end, 1);
    }
    put32(end, kEndSignature);
    put16(end, 0);
    put16(end, 0);
    put16(end, zip64End ? kMax16 : count);
    put16(end, zip64End ? kMax16 : count);
    put32(end, zip64End ? kMax32 : central.size());
    put32(end, zip64End ? kMax32 : offset);
    put16(end, 0);
    out.write(central);
    out.write(end);
    out.commit();
}

} // namespace lethe::io
