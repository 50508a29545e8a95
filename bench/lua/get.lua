-- GET the URL's path with the -H headers given on the command line.
function init(args)
end
