"""Canonical names of English local authorities with children's services.

Letters name an authority in many ways ("Swindon Borough Council", "London
Borough of Wandsworth Council", "City of Doncaster Council", "Hull City
Council"); summaries per authority need one name for each. Names not in this
list (a new unitary, a typo) are kept as written, cleaned of council suffixes.
"""

from __future__ import annotations

import re

AUTHORITIES = (
    "Barking and Dagenham", "Barnet", "Barnsley", "Bath and North East Somerset", "Bedford",
    "Bexley", "Birmingham", "Blackburn with Darwen", "Blackpool", "Bolton",
    "Bournemouth, Christchurch and Poole", "Bournemouth", "Poole", "Bracknell Forest",
    "Bradford", "Brent", "Brighton and Hove", "Bristol", "Bromley", "Buckinghamshire", "Bury",
    "Calderdale", "Cambridgeshire", "Camden", "Central Bedfordshire", "Cheshire East",
    "Cheshire West and Chester", "City of London", "Cornwall", "Coventry", "Croydon", "Cumberland",
    "Cumbria", "Darlington", "Derby", "Derbyshire", "Devon", "Doncaster", "Dorset", "Dudley",
    "Durham", "Ealing", "East Riding of Yorkshire", "East Sussex", "Enfield", "Essex", "Gateshead",
    "Gloucestershire", "Greenwich", "Hackney", "Halton", "Hammersmith and Fulham", "Hampshire",
    "Haringey", "Harrow", "Hartlepool", "Havering", "Herefordshire", "Hertfordshire", "Hillingdon",
    "Hounslow", "Isle of Wight", "Isles of Scilly", "Islington", "Kensington and Chelsea", "Kent",
    "Kingston upon Hull", "Kingston upon Thames", "Kirklees", "Knowsley", "Lambeth", "Lancashire",
    "Leeds", "Leicester", "Leicestershire", "Lewisham", "Lincolnshire", "Liverpool", "Luton",
    "Manchester", "Medway", "Merton", "Middlesbrough", "Milton Keynes", "Newcastle upon Tyne",
    "Newham", "Norfolk", "North East Lincolnshire", "North Lincolnshire", "North Northamptonshire",
    "North Somerset", "North Tyneside", "North Yorkshire", "Northamptonshire", "Northumberland",
    "Nottingham", "Nottinghamshire", "Oldham", "Oxfordshire", "Peterborough", "Plymouth",
    "Portsmouth", "Reading", "Redbridge", "Redcar and Cleveland", "Richmond upon Thames",
    "Rochdale", "Rotherham", "Rutland", "Salford", "Sandwell", "Sefton", "Sheffield", "Shropshire",
    "Slough", "Solihull", "Somerset", "South Gloucestershire", "South Tyneside", "Southampton",
    "Southend-on-Sea", "Southwark", "St Helens", "Staffordshire", "Stockport", "Stockton-on-Tees",
    "Stoke-on-Trent", "Suffolk", "Sunderland", "Surrey", "Sutton", "Swindon", "Tameside",
    "Telford and Wrekin", "Thurrock", "Torbay", "Tower Hamlets", "Trafford", "Wakefield",
    "Walsall", "Waltham Forest", "Wandsworth", "Warrington", "Warwickshire", "West Berkshire",
    "West Northamptonshire", "West Sussex", "Westminster", "Westmorland and Furness", "Wigan",
    "Wiltshire", "Windsor and Maidenhead", "Wirral", "Wokingham", "Wolverhampton", "Worcestershire",
    "York",
)

ALIASES = {
    "bcp": "Bournemouth, Christchurch and Poole",
    "east riding": "East Riding of Yorkshire",
    "hull": "Kingston upon Hull",
    "london corporation": "City of London",
    "city of london corporation": "City of London",
    "corporation of london": "City of London",
    "county durham": "Durham",
    "herefordshire county": "Herefordshire",
    "st. helens": "St Helens",
    "southend": "Southend-on-Sea",
    "stockton": "Stockton-on-Tees",
    "stoke": "Stoke-on-Trent",
    "telford": "Telford and Wrekin",
    "windsor": "Windsor and Maidenhead",
    "royal borough of windsor and maidenhead": "Windsor and Maidenhead",
    "newcastle": "Newcastle upon Tyne",
    "kingston": "Kingston upon Thames",
    "richmond": "Richmond upon Thames",
    "bath": "Bath and North East Somerset",
    "redcar": "Redcar and Cleveland",
    "blackburn": "Blackburn with Darwen",
    "brighton": "Brighton and Hove",
    "isle of scilly": "Isles of Scilly",
}

# Longest first, so that "Metropolitan Borough Council" is removed whole.
_SUFFIXES = re.compile(
    r"\b(?:metropolitan borough council|metropolitan district council|metropolitan borough|"
    r"borough council|county council|city council|district council|unitary authority|"
    r"city and county council|council|mbc|local authority|children['’]s services|"
    r"children['’]s services trust|children's trust)\s*$",
    re.I,
)
_PREFIXES = re.compile(r"^(?:the\s+)?(?:london borough of|royal borough of|borough of|"
                       r"city of(?! london)|county of)\s+", re.I)


def slug(name: str) -> str:
    """Comparison key: lower case, '&' as 'and', hyphens and punctuation as spaces."""
    name = name.lower().replace("&", " and ").replace("’", "'")
    name = re.sub(r"[^a-z0-9']+", " ", name)
    return " ".join(name.split())


_BY_SLUG = {slug(name): name for name in AUTHORITIES}
_BY_SLUG.update({slug(alias): name for alias, name in ALIASES.items()})


def strip_council_words(name: str) -> str:
    name = " ".join(name.replace("\n", " ").split()).strip(" ,.;:")
    name = re.sub(r"^the\s+", "", name, flags=re.I)
    for _ in range(3):
        new = _SUFFIXES.sub("", _PREFIXES.sub("", name)).strip(" ,.;:")
        if new == name:
            break
        name = new
    return name


def canonical(name: str | None) -> str | None:
    """The registry name for an authority as written, or the cleaned name itself."""
    if not name:
        return None
    cleaned = strip_council_words(name)
    if not cleaned:
        return None
    key = slug(cleaned)
    if key in _BY_SLUG:
        return _BY_SLUG[key]
    # "Hartlepool Borough", "Hull City": drop a trailing word until a name matches.
    words = key.split()
    for cut in range(len(words) - 1, 0, -1):
        if " ".join(words[:cut]) in _BY_SLUG:
            return _BY_SLUG[" ".join(words[:cut])]
    return cleaned


_WORD = re.compile(r"[A-Za-z0-9'’]+|&|[.:;!?]")   # words, and what ends a phrase (a line break does not)
# Lower-case words inside registry names ("Kingston upon Thames", "Blackburn with Darwen").
_JOINING = {"and", "upon", "with", "of", "on", "the", "le"}
# Capitalised words that may follow a name and still be about the authority.
_COUNCIL_WORDS = {"borough", "city", "county", "council", "council's", "metropolitan", "district",
                  "children's", "children", "local", "unitary", "mbc", "ofsted", "safeguarding",
                  "has", "is", "was"}


def find_in(text: str) -> str | None:
    """The first registry authority named in a short piece of text (longest match wins).

    Only a proper noun counts: every word of the name capitalised ("inspectors were
    reading case records" does not name Reading), and not followed by another
    capitalised word unless it is a council word ("Bury St Edmunds" is not Bury)."""
    words = []
    for m in _WORD.finditer(text):
        if m.group() == "." and words and words[-1][0] == "st":
            continue  # "St. Helens": an abbreviation, not the end of a sentence
        words.append((("and" if m.group() == "&" else m.group().lower().replace("’", "'")), m.group()[:1].isupper()))
    for i in range(len(words)):
        if not words[i][1]:
            continue
        best = None
        for name_slug, name in _BY_SLUG.items():
            parts = name_slug.split()
            if [w for w, _ in words[i:i + len(parts)]] != parts:
                continue
            if not all(upper or word in _JOINING for word, upper in words[i:i + len(parts)]):
                continue
            # the next word, unless a full stop or the like ends the name's phrase first
            after = words[i + len(parts)] if i + len(parts) < len(words) else None
            if after and after[1] and after[0] not in _COUNCIL_WORDS:
                continue
            if best is None or len(parts) > best[0]:
                best = (len(parts), name)
        if best:
            return best[1]
    return None
