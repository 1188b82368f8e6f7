#include "safetensors.h"

#include "../error.h"
#include "atomic_file.h"
#include "json_number.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

namespace lethe::io {

namespace {

struct DTypeInfo {
    DType dtype;
    const char* name;
    std::size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    { DType::F64, "F64", 8 },
    { DType::F32, "F32", 4 },
    { DType::F16, "F16", 2 },
    { DType::BF16, "BF16", 2 },
    { DType::I64, "I64", 8 },
    { DType::I32, "I32", 4 },
    { DType::I16, "I16", 2 },
    { DType::I8, "I8", 1 },
    { DType::U8, "U8", 1 },
    { DType::Bool, "BOOL", 1 },
    { DType::U16, "U16", 2 },
    { DType::U32, "U32", 4 },
    { DType::U64, "U64", 8 },
    { DType::F8E4M3, "F8_E4M3", 1 },
    { DType::F8E5M2, "F8_E5M2", 1 },
};

const DTypeInfo& infoOf(DType dtype)
{
    for (const auto& info : kDTypes)
        if (info.dtype == dtype)
            return info;
    throw Error("unknown safetensors dtype value");
}

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

std::string offsetsText(std::uint64_t begin, std::uint64_t end)
{
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string typeNameOf(const nlohmann::json& value)
{
    return value.type_name();
}

std::string where(const std::string& tensor)
{
    return "tensor '" + tensor + "'";
}

} // namespace

std::string dtypeName(DType dtype)
{
    return infoOf(dtype).name;
}

std::optional<DType> dtypeFromName(const std::string& name)
{
    for (const auto& info : kDTypes)
        if (name == info.name)
            return info.dtype;
    return std::nullopt;
}

std::size_t dtypeSize(DType dtype)
{
    return infoOf(dtype).size;
}

std::optional<torch::ScalarType> toScalarType(DType dtype)
{
    switch (dtype) {
    case DType::F64:
        return torch::kFloat64;
    case DType::F32:
        return torch::kFloat32;
    case DType::F16:
        return torch::kFloat16;
    case DType::BF16:
        return torch::kBFloat16;
    case DType::I64:
        return torch::kInt64;
    case DType::I32:
        return torch::kInt32;
    case DType::I16:
        return torch::kInt16;
    case DType::I8:
        return torch::kInt8;
    case DType::U8:
        return torch::kUInt8;
    case DType::Bool:
        return torch::kBool;
    default:
        return std::nullopt;
    }
}

std::optional<DType> fromScalarType(torch::ScalarType type)
{
    switch (type) {
    case torch::kFloat64:
        return DType::F64;
    case torch::kFloat32:
        return DType::F32;
    case torch::kFloat16:
        return DType::F16;
    case torch::kBFloat16:
        return DType::BF16;
    case torch::kInt64:
        return DType::I64;
    case torch::kInt32:
        return DType::I32;
    case torch::kInt16:
        return DType::I16;
    case torch::kInt8:
        return DType::I8;
    case torch::kUInt8:
        return DType::U8;
    case torch::kBool:
        return DType::Bool;
    default:
        return std::nullopt;
    }
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : m_file(std::make_unique<MappedFile>(path))
{
    parseHeader();
}

void SafetensorsFile::parseHeader()
{
    using nlohmann::json;
    const std::string file = m_file->path().string();
    const std::uint64_t fileSize = m_file->size();
    if (fileSize < 8)
        throw FormatError(file, "header length",
            "file is " + std::to_string(fileSize)
                + " bytes, expected at least 8 (the little-endian u64 header length)");
    std::uint64_t headerLength = 0;
    for (int i = 7; i >= 0; --i)
        headerLength = (headerLength << 8) | m_file->data()[i];
    if (headerLength > kMaxHeaderBytes)
        throw FormatError(file, "header length",
            std::to_string(headerLength) + " bytes exceeds the limit of " + std::to_string(kMaxHeaderBytes));
    if (headerLength > fileSize - 8)
        throw FormatError(file, "header length",
            std::to_string(headerLength) + " bytes runs past the end of the file (" + std::to_string(fileSize - 8)
                + " bytes follow the length field)");
    m_dataStart = 8 + headerLength;
    const std::uint64_t dataSize = fileSize - m_dataStart;

    const char* text = reinterpret_cast<const char*>(m_file->data() + 8);
    std::set<std::string> seenKeys;
    std::string duplicate;
    const json::parser_callback_t noteDuplicates = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth == 1 && event == json::parse_event_t::key) {
            const auto& key = parsed.get_ref<const std::string&>();
            if (!seenKeys.insert(key).second && duplicate.empty())
                duplicate = key;
        }
        return true;
    };
    json header;
    try {
        header = json::parse(text, text + headerLength, noteDuplicates);
    } catch (const json::parse_error& e) {
        throw FormatError(file, "header", std::string("invalid JSON: ") + e.what());
    } catch (const json::out_of_range& e) {
        throw FormatError(
            file, "header", "invalid JSON: the number " + overflowingNumber(e) + " is out of range of a double");
    }
    if (!header.is_object())
        throw FormatError(file, "header", "expected a JSON object, found " + typeNameOf(header));
    if (!duplicate.empty())
        throw FormatError(file, "header", "the name '" + duplicate + "' appears more than once");

    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__") {
            if (!value.is_object())
                throw FormatError(file, "__metadata__", "expected an object of strings, found " + typeNameOf(value));
            for (const auto& [key, item] : value.items()) {
                if (!item.is_string())
                    throw FormatError(
                        file, "__metadata__ key '" + key + "'", "expected a string value, found " + typeNameOf(item));
                m_metadata[key] = item.get<std::string>();
            }
            continue;
        }
        if (!value.is_object())
            throw FormatError(
                file, where(name), "expected an object with dtype, shape and data_offsets, found " + typeNameOf(value));
        for (const char* key : { "dtype", "shape", "data_offsets" })
            if (!value.contains(key))
                throw FormatError(file, where(name), std::string("missing key '") + key + "'");
        TensorEntry entry;
        entry.name = name;
        const json& dtype = value["dtype"];
        if (!dtype.is_string())
            throw FormatError(file, where(name), "dtype must be a string, found " + dtype.dump());
        const auto parsedType = dtypeFromName(dtype.get<std::string>());
        if (!parsedType)
            throw FormatError(file, where(name), "unknown dtype '" + dtype.get<std::string>() + "'");
        entry.dtype = *parsedType;
        const json& shape = value["shape"];
        if (!shape.is_array())
            throw FormatError(
                file, where(name), "shape must be a list of non-negative integers, found " + shape.dump());
        // Counted in bytes with an overflow check, so a hostile shape cannot wrap around.
        std::uint64_t bytes = dtypeSize(entry.dtype);
        bool overflow = false;
        for (const auto& dim : shape) {
            if (!dim.is_number_unsigned())
                throw FormatError(
                    file, where(name), "shape must be a list of non-negative integers, found " + shape.dump());
            const std::uint64_t d = dim.get<std::uint64_t>();
            if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                overflow = true;
            else if (d != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / d)
                overflow = true;
            bytes *= d;
            entry.shape.push_back(static_cast<std::int64_t>(d));
        }
        const json& offsets = value["data_offsets"];
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned()
            || !offsets[1].is_number_unsigned())
            throw FormatError(file, where(name),
                "data_offsets must be two non-negative integers [begin, end], found " + offsets.dump());
        entry.begin = offsets[0].get<std::uint64_t>();
        entry.end = offsets[1].get<std::uint64_t>();
        if (entry.end < entry.begin)
            throw FormatError(
                file, where(name), "data_offsets " + offsetsText(entry.begin, entry.end) + " end before they begin");
        if (overflow || bytes != entry.end - entry.begin)
            throw FormatError(file, where(name),
                "shape " + shapeText(entry.shape) + " of " + dtypeName(entry.dtype) + " needs "
                    + (overflow ? std::string("more than 2^64") : std::to_string(bytes)) + " bytes, but data_offsets "
                    + offsetsText(entry.begin, entry.end) + " hold " + std::to_string(entry.end - entry.begin));
        m_entries.push_back(std::move(entry));
    }

    std::stable_sort(m_entries.begin(), m_entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t expectedBegin = 0;
    const TensorEntry* previous = nullptr;
    for (const auto& entry : m_entries) {
        if (entry.begin < expectedBegin)
            throw FormatError(file, where(entry.name),
                "data_offsets " + offsetsText(entry.begin, entry.end) + " overlap tensor '" + previous->name
                    + "', which ends at byte " + std::to_string(expectedBegin));
        if (entry.begin > expectedBegin)
            throw FormatError(file, where(entry.name),
                "data_offsets " + offsetsText(entry.begin, entry.end) + " start at byte " + std::to_string(entry.begin)
                    + ", expected " + std::to_string(expectedBegin)
                    + " (tensors must tile the data region without gaps)");
        if (entry.end > dataSize)
            throw FormatError(file, where(entry.name),
                "data_offsets " + offsetsText(entry.begin, entry.end) + " run past the end of the data region ("
                    + std::to_string(dataSize) + " bytes)");
        expectedBegin = entry.end;
        previous = &entry;
    }
    if (expectedBegin != dataSize)
        throw FormatError(file, "data region",
            std::to_string(dataSize) + " bytes follow the header, but the tensors cover "
                + std::to_string(expectedBegin));
    for (std::size_t i = 0; i < m_entries.size(); ++i)
        m_index.emplace(m_entries[i].name, i);
}

const TensorEntry& SafetensorsFile::entry(const std::string& name) const
{
    const auto it = m_index.find(name);
    if (it == m_index.end())
        throw FormatError(path().string(), where(name), "no tensor of that name in the file");
    return m_entries[it->second];
}

const std::uint8_t* SafetensorsFile::bytes(const TensorEntry& entry) const
{
    return m_file->data() + m_dataStart + entry.begin;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const
{
    const TensorEntry& e = entry(name);
    const auto type = toScalarType(e.dtype);
    if (!type)
        throw FormatError(path().string(), where(name), "dtype " + dtypeName(e.dtype) + " has no LibTorch equivalent");
    torch::Tensor out = torch::empty(e.shape, torch::TensorOptions().dtype(*type));
    if (e.end > e.begin)
        std::memcpy(out.data_ptr(), bytes(e), e.end - e.begin);
    return out;
}

namespace {

/// The header is JSON, which holds only UTF-8: refuse other bytes with the place they are in, before
/// nlohmann's dump() throws its own type_error.
void requireUtf8(const std::filesystem::path& path, const std::string& where, const std::string& text)
{
    try {
        (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::type_error& e) {
        std::string problem = e.what();
        problem.erase(0, problem.find("] ") == std::string::npos ? 0 : problem.find("] ") + 2);
        throw Error(path.string() + ": " + where + " is not valid UTF-8 (" + problem + ")");
    }
}

} // namespace

// Besides what the header says: names and metadata that are not UTF-8 are refused with an Error.
void writeSafetensors(
    const std::filesystem::path& path, const std::vector<NamedTensor>& tensors, const Metadata& metadata)
{
    using nlohmann::json;
    for (const auto& [key, value] : metadata) {
        requireUtf8(path, "__metadata__ key '" + key + "'", key);
        requireUtf8(path, "the value of __metadata__ key '" + key + "'", value);
    }
    for (const auto& named : tensors)
        requireUtf8(path, "tensor name '" + named.name + "'", named.name);
    json header = json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::vector<torch::Tensor> cpu;
    cpu.reserve(tensors.size());
    std::uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        if (name == "__metadata__" || header.contains(name))
            throw Error(path.string() + ": tensor name '" + name + "' is used twice or reserved");
        if (!tensor.defined())
            throw Error(path.string() + ": tensor '" + name + "' is undefined");
        const auto dtype = fromScalarType(tensor.scalar_type());
        if (!dtype)
            throw Error(path.string() + ": tensor '" + name + "' has type "
                + std::string(c10::toString(tensor.scalar_type())) + ", which safetensors cannot store");
        torch::Tensor contiguous = tensor.detach().to(torch::kCPU).contiguous();
        const std::uint64_t bytes = static_cast<std::uint64_t>(contiguous.nbytes());
        header[name] = { { "dtype", dtypeName(*dtype) }, { "shape", contiguous.sizes().vec() },
            { "data_offsets", { offset, offset + bytes } } };
        offset += bytes;
        cpu.push_back(std::move(contiguous));
    }
    std::string headerText = header.dump();
    // Pad with spaces so the data region starts 8-byte aligned, as common writers do.
    while ((8 + headerText.size()) % 8 != 0)
        headerText.push_back(' ');
    std::uint8_t lengthBytes[8];
    const std::uint64_t length = headerText.size();
    for (int i = 0; i < 8; ++i)
        lengthBytes[i] = static_cast<std::uint8_t>(length >> (8 * i));

    // nlohmann orders object keys alphabetically; write tensors in the offsets' order.
    AtomicFileWriter writer(path);
    writer.write(lengthBytes, sizeof lengthBytes);
    writer.write(headerText);
    for (const auto& t : cpu)
        writer.write(t.data_ptr(), t.nbytes());
    writer.commit();
}

} // namespace lethe::io
