#pragma once

#include "cf/models.h"
#include "data/dataset.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <memory>
#include <optional>

namespace recwb::cf {

// User and item factors trained elsewhere, keyed by the external ids they were trained with
// (row r of `user` belongs to userIds[r]). Readers check shapes and ids; nothing is mapped
// onto a workspace yet.
struct ExternalFactors {
    QString format; // "implicit" or "spark"
    QString userSource, itemSource; // the factor files (or folders) read
    QString userIdSource, itemIdSource; // where the row ids came from (an id file, an array)
    QStringList userIds, itemIds;
    RowMatrixF user, item;
    // Hyperparameters the file carries (implicit: factors, regularization, alpha,
    // iterations); empty for Spark, whose JSON holds only ids and features.
    QJsonObject fileParams;
};

// implicit's AlternatingLeastSquares.save (.npz): arrays user_factors and item_factors
// (float32/float64, C order). Row ids come from userIdsFile / itemIdsFile (one id per line,
// row order) when given, else from arrays user_ids / item_ids in the npz; without either,
// Error. Every problem (no such file, not a zip, truncated, a missing array, a dtype or
// layout other than little-endian f4/f8 in C order, mismatched factor dimensions, id count
// unequal to rows, a duplicated id) throws Error naming the file and array.
ExternalFactors readImplicitNpz(
    const QString& npzPath, const QString& userIdsFile = {}, const QString& itemIdsFile = {});

// Spark MLlib ALSModel.save's userFactors / itemFactors as JSON lines: one
// {"id": 12, "features": [0.1, ...]} per line, in a file or in the part-* files of a
// folder (as Spark writes them; _SUCCESS and .crc files are skipped). Ids are kept as
// text. Errors name file:line.
ExternalFactors readSparkAls(const QString& usersPath, const QString& itemsPath);

struct FactorImportOptions {
    // Fold-in regularisation; default: the npz's regularization, else 0.01 (implicit's
    // default) or 0.1 (Spark's regParam).
    std::optional<double> reg;
    // Our confidence 1 + alpha per interaction; default: the npz's alpha - 1 (implicit's
    // confidence is alpha x value), else 1 (Spark's default alpha).
    std::optional<double> alpha;
    // Ids in the file that the workspace lacks: an error (false) or dropped and reported.
    bool skipUnknownIds = false;
};

struct FactorImportReport {
    int fileUsers = 0, fileItems = 0, factors = 0;
    int usersMatched = 0, itemsMatched = 0;
    int unknownUsers = 0, unknownItems = 0; // in the file, not in the workspace (dropped)
    QStringList firstUnknownUsers, firstUnknownItems; // the first 10 of each
    int usersFoldedIn = 0; // workspace users not in the file: folded in from their history
    int itemsWithoutFactors = 0; // workspace items not in the file: zero factors, never recommended
    QStringList firstItemsWithoutFactors;
    double reg = 0, alpha = 0;
    QJsonObject toJson() const;
};

// Maps the factors onto the workspace's users and items (by external id, exactly; nothing
// is guessed) and returns an iALS model holding them, ready for saveSnapshot. Throws Error,
// naming the file, the count and the first ids, when ids do not match and
// options.skipUnknownIds is false, or when no item matches at all.
std::unique_ptr<Ials> buildImportedModel(const ExternalFactors& factors, const Dataset& ds,
    const FactorImportOptions& options, FactorImportReport* report = nullptr);

} // namespace recwb::cf
