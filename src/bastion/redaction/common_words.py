"""Ordinary English words that fuzzy dictionary matching must never flag.

A misspelling budget of one edit puts ``hero`` next to the codename ``Heron`` and
``bacon`` next to ``Baton``: without this guard every such word would be redacted
in prose. Exact matches are unaffected (a client that lists ``Falcon`` wants
"falcon" redacted), and projects can add words through the policy's
``allow_words``. The list is deliberately ordinary vocabulary of four letters or
more, the only lengths fuzzy matching considers.
"""

from __future__ import annotations

COMMON_WORDS: frozenset[str] = frozenset(
    """
    able about above accept access account across action active actual actually added adding address
    admin after again against agent agree ahead allow allowed almost alone along already also although
    always among amount angle animal annual another answer anyone anything apart apple apply area areas
    argue around arrive article artist aside asked asking assume attack attempt author auto available
    average avoid award aware away back backed bacon badge baker balance band bank banks base based basic
    basis batch battle beach bear beat became because become been before began begin behind being
    believe bell below belt best better between beyond bill billion bird birds black blade blame blank
    block blood blue board boat body bond bone book books border born both bottom bound brain branch
    brand bread break brief bright bring broad broke brother brown budget build building built burn
    business busy button buyer cable call called calls came camera camp campaign cannot capital captain
    card care career carry case cases cash cast catch cause caused cell center central century certain
    chain chair chance change changed changes channel chapter charge chart check chief child children
    choice choose chose church circle city civil claim class clean clear click client climb clock close
    closed cloud coach coast code coded codes coffee cold collect college color colour come comes coming
    command comment common company compare complete concern condition connect consider contact contain
    content context continue contract control cook cool copy corner correct cost could count country
    county couple course court cover crash create created credit crew crime crisis critical cross crowd
    culture current customer cycle daily damage dance danger dark data date dates daughter days dead
    deal dealer dear death debate decade decide decision deep define degree delay deliver demand denial
    deny depend deploy depth describe design desk detail details develop device died diet differ
    digital dinner direct director dirty discuss disease display distance divide doctor does doing
    dollar domain done door double doubt down draft drama draw dream dress drink drive driver drop drug
    during duty each early earn earth ease east easy economy edge edit editor effect effort eight either
    election else email emails empty enable end energy engine enjoy enough ensure enter entire entry
    equal error errors escape even evening event events ever every exact exactly example exist expect
    expert explain express extra face fact factor fail failed fair faith fall false family famous farm
    fast father fault favor fear feature federal feel feeling felt fence few field fields fifty fight
    figure file files fill film final finally find fine finger finish fire firm first fish five fixed
    flag flat flight floor flow flower focus folder follow food foot force foreign forest form format
    former forms forward found four frame free fresh friend front fruit full fully function fund future
    gain game games garden gate gather gave general get gets giant gift girl give given glass global goal
    goes going gold golden gone good govern grade grant great green ground group grow growth guard guess
    guest guide gun habit hair half hall hand handle hang happen happy hard have having head health hear
    heard heart heat heavy held hello help helped here hero heroes herself high highly hill
    himself hire history hold holds hole holiday home honest hope horse host hotel hour hours house
    however huge human hundred hurt idea ideal ideas image impact imply import improve include income
    index indeed inner input inside instead issue issues item items itself join joint judge jump junior
    just keep keeps kept kill kind king kitchen knew know known label labels labor lack lady land lane
    language large last late later latter launch lawyer layer lead leader learn least leave left legal
    length less lesson letter level library life light like likely limit line lines link links list
    listen little live local long look looked lose loss lost loud love lower lunch machine made main
    major make maker making male manage manager many market marked master match material matter maybe
    mean means measure media meet meeting member memory mention menu merge message metal method middle
    might mile military million mind minor minute miss mission mode model models modern moment money
    month months more morning most mother motion mount mouse mouth move moved movie much music must myself
    name named names nation native natural nature near nearly need needs network never news next nice
    night nine noise none normal north note noted notes nothing notice novel number object offer office
    officer often older once only open opened option order orders other others outside over owner pace
    pack page pages paid pain paint pair panel paper parent park part partner party pass passed past path
    patient pattern pause peace people percent perfect perform perhaps period person phase phone photo
    pick picture piece pilot place plan plane planet plant plate play player please plus point points
    police policy poor popular port position possible post power practice prepare present press pretty
    prevent price pride print prior private problem process produce product profile program project
    proof proper protect prove provide public pull purpose push quality queen query question quick
    quickly quiet quite race radio rail rain raise range rank rate rather reach read reader ready real
    really reason recent record reduce region release remain remember remove report request require
    rescue research resource response rest result return review rich ride right rise risk river road
    rock role roll room root round route rule rules safe said sale same sample save saving scale scene
    school science score screen search season seat second secret section security seek seem seen select
    sell send senior sense series serve server service session setting seven several shape share sharp
    sheet shift ship shoot shop short shot should show shown side sign signal silver simple since single
    sister site size skill slow small smart social soft solid solve some someone song soon sort sound
    source south space speak special speech speed spend split sport spring staff stage stand standard
    star start state states station status stay step still stock stop store storm story straight
    strange street stress strike strong student study style subject success such sudden summer support
    sure surface system table take taken talk target task tasks team teams test tests text than thank
    that their them theme then theory there these they thing things think third this those though
    thought three through throw ticket time times title today together token tokens told tone tonight
    took tool tools total touch tough tour toward towards town track trade train training travel treat
    tree trial trip trouble true trust truth turn type types under union unit until update upon user
    users usual usually valid value values various version very video view views visit voice vote wait
    walk wall want wanted warm warn wash watch water wave ways weak wear weather week weight well went
    were west what wheel when where whether which while white whole whom whose wide wife wild will wind
    window winter wire wish with within without woman women wonder word words work worked worker works
    world worry would write writer wrong yard yeah year years yellow young your yourself zone
    """.split()
)
